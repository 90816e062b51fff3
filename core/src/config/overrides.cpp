#include <charconv>
#include <optional>

#include "config/config.h"
#include "config/config_internal.h"
#include "util/strings.h"

namespace compass {
namespace {

using config_internal::TypeName;

bool IsIndex(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// Splits "a.b.\"c.d\"" into {"a", "b", "c.d"}; quoted segments may hold dots.
StatusOr<std::vector<std::string>> SplitKey(std::string_view key) {
  std::vector<std::string> segments;
  std::string current;
  bool quoted_segment = false;
  for (size_t i = 0; i <= key.size(); ++i) {
    if (i == key.size() || key[i] == '.') {
      const std::string_view trimmed = quoted_segment ? std::string_view(current) : Trim(current);
      if (trimmed.empty() && !quoted_segment)
        return InvalidArgument("empty key segment in '" + std::string(key) + "'");
      segments.emplace_back(trimmed);
      current.clear();
      quoted_segment = false;
      continue;
    }
    const char c = key[i];
    if (c == '"' || c == '\'') {
      const size_t end = key.find(c, i + 1);
      if (end == std::string_view::npos)
        return InvalidArgument("unterminated quote in '" + std::string(key) + "'");
      if (!Trim(current).empty())
        return InvalidArgument("a quote must start a key segment in '" + std::string(key) + "'");
      current.assign(key.substr(i + 1, end - i - 1));
      quoted_segment = true;
      i = end;
      // Only whitespace may follow a closing quote before the next '.'.
      while (i + 1 < key.size() && key[i + 1] == ' ') ++i;
      if (i + 1 < key.size() && key[i + 1] != '.')
        return InvalidArgument("expected '.' after a quoted key segment in '" + std::string(key) +
                               "'");
      continue;
    }
    current += c;
  }
  return segments;
}

// The override value as TOML, or as a string when it is not a TOML value.
toml::table ParseValue(std::string_view text) {
  const std::string doc = "v = " + std::string(text);
  std::optional<toml::table> parsed;
#if TOML_EXCEPTIONS
  try {
    parsed = toml::parse(doc);
  } catch (const toml::parse_error&) {
  }
#else
  toml::parse_result result = toml::parse(doc);
  if (result) parsed = std::move(result).table();
#endif
  if (parsed && parsed->size() == 1 && parsed->contains("v")) return std::move(*parsed);
  toml::table fallback;
  fallback.insert("v", std::string(text));
  return fallback;
}

}  // namespace

Status ApplyOverride(toml::table& root, std::string_view assignment) {
  const std::string err = "--set '" + std::string(assignment) + "': ";
  try {
    const size_t eq = assignment.find('=');
    if (eq == std::string_view::npos)
      return InvalidArgument(err + "expected key=value, e.g. --set model.dtype=bf16");
    const std::string_view key = Trim(assignment.substr(0, eq));
    if (key.empty()) return InvalidArgument(err + "the key before '=' is empty");
    StatusOr<std::vector<std::string>> split = SplitKey(key);
    if (!split.ok()) return InvalidArgument(err + split.status().message());
    const std::vector<std::string>& segments = *split;

    const toml::table parsed = ParseValue(Trim(assignment.substr(eq + 1)));
    // Inserting a copy drops the source position of the parsed snippet, so
    // messages about this value name the override instead of a line.
    const toml::node& value = *parsed.get("v");

    toml::node* current = &root;
    std::string path;  // of `current`, for messages
    for (size_t i = 0; i < segments.size(); ++i) {
      const std::string& seg = segments[i];
      const bool last = i + 1 == segments.size();
      toml::node* child = nullptr;
      if (toml::table* table = current->as_table()) {
        if (last) {
          table->insert_or_assign(seg, value);
          return Status::Ok();
        }
        child = table->get(seg);
        if (!child) {
          if (IsIndex(segments[i + 1]))
            return InvalidArgument(err + "index " + segments[i + 1] + " is out of range: '" +
                                   config_internal::JoinPath(path, seg) + "' does not exist");
          child = &table->insert_or_assign(seg, toml::table{}).first->second;
        }
      } else {
        toml::array& array = *current->as_array();
        if (!IsIndex(seg))
          return InvalidArgument(err + "'" + path +
                                 "' is an array; pick an element by number, e.g. " + path + ".0");
        size_t index = 0;
        const auto [ptr, ec] = std::from_chars(seg.data(), seg.data() + seg.size(), index);
        if (ec != std::errc() || index >= array.size())
          return InvalidArgument(err + "index " + seg + " is out of range: '" + path + "' has " +
                                 std::to_string(array.size()) +
                                 (array.size() == 1 ? " entry" : " entries"));
        if (last) {
          array.replace(array.cbegin() + static_cast<std::ptrdiff_t>(index), value);
          return Status::Ok();
        }
        child = array.get(index);
      }
      path = config_internal::JoinPath(path, seg);
      if (!child->is_table() && !child->is_array())
        return InvalidArgument(err + "'" + path + "' is " + TypeName(*child) +
                               ", not a table or an array");
      current = child;
    }
    return Status::Ok();
  } catch (const std::exception& e) {
    return Internal(err + "unexpected error: " + e.what());
  } catch (...) {
    return Internal(err + "unexpected error");
  }
}

}  // namespace compass
