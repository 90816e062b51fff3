#include "compass/jinja/value.h"

#include "compass/plugin_support/text.h"

#include <charconv>
#include <cmath>
#include <cstdio>
#include <string_view>

namespace compass::jinja {

namespace {

using plugin_support::append_utf8;
using plugin_support::decode_utf8;

// Code points Python's str.isprintable() rejects, among those data holds:
// controls, the C1 block, separators other than the space, format
// characters, surrogates and noncharacters.
bool printable(uint32_t cp) {
  if (cp < 0x20 || (cp >= 0x7F && cp <= 0xA0) || cp == 0xAD) return false;
  if (cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200F) || (cp >= 0x2028 && cp <= 0x202F)) {
    return false;
  }
  if ((cp >= 0x205F && cp <= 0x206F) || cp == 0x3000 || cp == 0xFEFF) return false;
  if ((cp >= 0xD800 && cp <= 0xDFFF) || (cp >= 0xFFF9 && cp <= 0xFFFB)) return false;
  return (cp & 0xFFFE) != 0xFFFE;
}

std::string string_repr(std::string_view text) {
  const bool has_single = text.find('\'') != std::string_view::npos;
  const bool has_double = text.find('"') != std::string_view::npos;
  const char quote = has_single && !has_double ? '"' : '\'';
  std::string out(1, quote);
  for (size_t i = 0; i < text.size();) {
    size_t len = 1;
    const uint32_t cp = decode_utf8(text, i, len);
    if (cp == static_cast<uint32_t>(quote) || cp == '\\') {
      out += '\\';
      out += static_cast<char>(cp);
    } else if (cp == '\n') {
      out += "\\n";
    } else if (cp == '\r') {
      out += "\\r";
    } else if (cp == '\t') {
      out += "\\t";
    } else if (printable(cp)) {
      out.append(text.substr(i, len));
    } else {
      char buf[16];
      if (cp < 0x100) {
        std::snprintf(buf, sizeof buf, "\\x%02x", cp);
      } else if (cp < 0x10000) {
        std::snprintf(buf, sizeof buf, "\\u%04x", cp);
      } else {
        std::snprintf(buf, sizeof buf, "\\U%08x", cp);
      }
      out += buf;
    }
    i += len;
  }
  out += quote;
  return out;
}

}  // namespace

std::string float_repr(double value) {
  if (std::isnan(value)) return "nan";
  if (std::isinf(value)) return value < 0 ? "-inf" : "inf";
  // Shortest round-trip digits and the decimal exponent, then Python's
  // layout (float_repr_style 'short', repr mode 'r').
  char buf[64];
  const auto result =
      std::to_chars(buf, buf + sizeof buf, std::fabs(value), std::chars_format::scientific);
  const std::string_view sci(buf, static_cast<size_t>(result.ptr - buf));
  const size_t e_at = sci.find('e');
  std::string digits(1, sci[0]);
  if (e_at > 1) digits.append(sci.substr(2, e_at - 2));  // skip "d."
  int exponent = 0;
  std::from_chars(sci.data() + e_at + 1 + (sci[e_at + 1] == '+' ? 1 : 0), sci.data() + sci.size(),
                  exponent);
  const int n = static_cast<int>(digits.size());
  std::string out = std::signbit(value) ? "-" : "";
  if (exponent >= -4 && exponent < 16) {
    if (exponent >= n - 1) {
      out += digits + std::string(static_cast<size_t>(exponent - (n - 1)), '0') + ".0";
    } else if (exponent >= 0) {
      out += digits.substr(0, static_cast<size_t>(exponent + 1)) + "." +
             digits.substr(static_cast<size_t>(exponent + 1));
    } else {
      out += "0." + std::string(static_cast<size_t>(-exponent - 1), '0') + digits;
    }
  } else {
    out += digits.substr(0, 1);
    if (n > 1) out += "." + digits.substr(1);
    char exp[8];
    std::snprintf(exp, sizeof exp, "e%c%02d", exponent < 0 ? '-' : '+', std::abs(exponent));
    out += exp;
  }
  return out;
}

std::string repr(const Value& value) {
  switch (value.type()) {
    case Value::value_t::string: return string_repr(value.get_ref<const std::string&>());
    case Value::value_t::array: {
      std::string out = "[";
      for (size_t i = 0; i < value.size(); ++i) out += (i ? ", " : "") + repr(value[i]);
      return out + "]";
    }
    case Value::value_t::object: {
      std::string out = "{";
      bool first = true;
      for (const auto& [key, element] : value.items()) {
        // Keys that are not strings are stored as "\x01<repr>" (builtins.h).
        const std::string shown =
            !key.empty() && key[0] == '\x01' ? key.substr(1) : string_repr(key);
        out += (first ? "" : ", ") + shown + ": " + repr(element);
        first = false;
      }
      return out + "}";
    }
    default: return to_str(value);
  }
}

std::string to_str(const Value& value) {
  switch (value.type()) {
    case Value::value_t::string: return value.get<std::string>();
    case Value::value_t::boolean: return value.get<bool>() ? "True" : "False";
    case Value::value_t::null: return "None";
    case Value::value_t::number_integer: return std::to_string(value.get<int64_t>());
    case Value::value_t::number_unsigned: return std::to_string(value.get<uint64_t>());
    case Value::value_t::number_float: return float_repr(value.get<double>());
    case Value::value_t::array:
    case Value::value_t::object: return repr(value);
    default: return "";
  }
}

bool truthy(const Value& value) {
  switch (value.type()) {
    case Value::value_t::null: return false;
    case Value::value_t::boolean: return value.get<bool>();
    case Value::value_t::number_integer: return value.get<int64_t>() != 0;
    case Value::value_t::number_unsigned: return value.get<uint64_t>() != 0;
    case Value::value_t::number_float: return value.get<double>() != 0.0;
    case Value::value_t::string: return !value.get_ref<const std::string&>().empty();
    case Value::value_t::array:
    case Value::value_t::object: return !value.empty();
    default: return false;
  }
}

std::string type_name(const Value& value) {
  switch (value.type()) {
    case Value::value_t::string: return "str";
    case Value::value_t::boolean: return "bool";
    case Value::value_t::null: return "NoneType";
    case Value::value_t::number_integer:
    case Value::value_t::number_unsigned: return "int";
    case Value::value_t::number_float: return "float";
    case Value::value_t::array: return "list";
    case Value::value_t::object: return "dict";
    default: return "object";
  }
}

bool equal(const Value& a, const Value& b) {
  const auto numeric = [](const Value& v) { return v.is_number() || v.is_boolean(); };
  if (numeric(a) && numeric(b)) {
    const auto as_double = [](const Value& v) {
      return v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
    };
    if ((a.is_number_integer() || a.is_boolean()) && (b.is_number_integer() || b.is_boolean())) {
      const auto as_int = [](const Value& v) {
        return v.is_boolean() ? (v.get<bool>() ? 1 : 0) : v.get<int64_t>();
      };
      return as_int(a) == as_int(b);
    }
    return as_double(a) == as_double(b);
  }
  if (a.type() != b.type()) return false;
  if (a.is_array()) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (!equal(a[i], b[i])) return false;
    }
    return true;
  }
  if (a.is_object()) {
    if (a.size() != b.size()) return false;
    for (const auto& [key, element] : a.items()) {
      const auto it = b.find(key);
      if (it == b.end() || !equal(element, *it)) return false;
    }
    return true;
  }
  return a == b;
}

}  // namespace compass::jinja
