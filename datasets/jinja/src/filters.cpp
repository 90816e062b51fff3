#include "builtins.h"
#include "compass/plugin_support/regex.h"
#include "compass/plugin_support/text.h"
#include "python_str.h"

#include <cmath>
#include <cstdlib>
#include <functional>
#include <map>

namespace compass::jinja {

namespace {

using Params = std::vector<std::optional<Value>>;

std::optional<std::string> optional_string(const std::optional<Value>& v, const std::string& what) {
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) fail(what + " must be a string, got " + type_name(*v));
  return v->get<std::string>();
}

std::string string_arg(const std::optional<Value>& v, const std::string& what) {
  if (!v) fail(what + " is required");
  if (!v->is_string()) fail(what + " must be a string, got " + type_name(*v));
  return v->get<std::string>();
}

// Python's int(text): optional sign, digits with single underscores,
// surrounding whitespace.
std::optional<int64_t> parse_int(const std::string& text) {
  const std::string t = py::strip(text, std::nullopt, true, true);
  std::string digits;
  size_t i = 0;
  if (i < t.size() && (t[i] == '+' || t[i] == '-')) digits += t[i++];
  bool last_underscore = true;
  for (; i < t.size(); ++i) {
    if (t[i] == '_' && !last_underscore) {
      last_underscore = true;
      continue;
    }
    if (t[i] < '0' || t[i] > '9') return std::nullopt;
    digits += t[i];
    last_underscore = false;
  }
  if (last_underscore) return std::nullopt;
  try {
    return std::stoll(digits);
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<double> parse_float(const std::string& text) {
  const std::string t = py::strip(text, std::nullopt, true, true);
  if (t.empty()) return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(t.c_str(), &end);
  if (end != t.c_str() + t.size()) return std::nullopt;
  return d;
}

Value to_int(const Value& v, const Value& fallback) {
  if (v.is_boolean() || v.is_number_integer()) return as_int(v, "");
  if (v.is_number_float()) {
    const double d = v.get<double>();
    if (!std::isfinite(d)) fail("cannot convert float " + float_repr(d) + " to integer");
    return static_cast<int64_t>(std::trunc(d));
  }
  if (v.is_string()) {
    if (const auto i = parse_int(v.get<std::string>())) return *i;
    if (const auto d = parse_float(v.get<std::string>())) {
      if (!std::isfinite(*d)) fail("cannot convert float " + float_repr(*d) + " to integer");
      return static_cast<int64_t>(std::trunc(*d));
    }
  }
  return fallback;
}

Value to_float(const Value& v, const Value& fallback) {
  if (v.is_boolean() || v.is_number()) {
    return v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
  }
  if (v.is_string()) {
    if (const auto d = parse_float(v.get<std::string>())) return *d;
  }
  return fallback;
}

Value length(const Value& v) {
  if (v.is_string()) return py::length(v.get_ref<const std::string&>());
  if (v.is_array() || v.is_object()) return static_cast<int64_t>(v.size());
  fail("object of type '" + type_name(v) + "' has no len()");
}

Value first_or_last(const Value& v, bool first) {
  const std::vector<Value> items = iterate(v);
  if (items.empty()) {
    fail_undefined(std::string("No ") + (first ? "first" : "last") + " item, sequence was empty.");
  }
  return first ? items.front() : items.back();
}

Value regex_replace(const Value& v, const Params& p) {
  if (!v.is_string()) fail("expected string or bytes-like object, got '" + type_name(v) + "'");
  const std::string pattern = string_arg(p[0], "pattern");
  const std::string replacement = string_arg(p[1], "repl");
  if (replacement.find('\\') != std::string::npos) {
    fail("a replacement with backslashes (group references or escapes) is not supported: " +
         repr(replacement));
  }
  const int64_t count = p[2] ? as_int(*p[2], "count") : 0;
  try {
    return plugin_support::Regex(pattern).replace(v.get<std::string>(), replacement,
                                                  static_cast<size_t>(std::max<int64_t>(0, count)));
  } catch (const std::exception& e) {
    fail(e.what());
  }
}

using Filter = std::function<Value(const Value&, const Args&, const Kwargs&)>;

// A filter of `names` parameters after the operand.
Filter with(const char* name, std::vector<const char*> names,
            std::function<Value(const Value&, const Params&)> fn) {
  return [name, names = std::move(names), fn = std::move(fn)](const Value& v, const Args& args,
                                                              const Kwargs& kwargs) {
    return fn(v, bind_args(name, args, kwargs, names));
  };
}

const std::map<std::string, Filter>& filters() {
  static const std::map<std::string, Filter> kFilters = {
      {"abs", with("abs", {},
                   [](const Value& v, const Params&) -> Value {
                     if (v.is_number_float()) return std::fabs(v.get<double>());
                     const int64_t i = as_int(v, "abs() argument");
                     return i < 0 ? unary_op(true, v) : Value(i);
                   })},
      {"capitalize", with("capitalize", {},
                          [](const Value& v, const Params&) -> Value {
                            return plugin_support::python_capitalize(to_str(v));
                          })},
      {"first",
       with("first", {}, [](const Value& v, const Params&) { return first_or_last(v, true); })},
      {"float", with("float", {"default"},
                     [](const Value& v, const Params& p) {
                       return to_float(v, p[0] ? *p[0] : Value(0.0));
                     })},
      {"int", with("int", {"default", "base"},
                   [](const Value& v, const Params& p) {
                     if (p[1] && as_int(*p[1], "base") != 10)
                       fail("int: only base 10 is supported");
                     return to_int(v, p[0] ? *p[0] : Value(0));
                   })},
      {"join", with("join", {"d", "attribute"},
                    [](const Value& v, const Params& p) -> Value {
                      if (p[1]) fail("join: attribute= is not supported");
                      const std::string sep = p[0] ? to_str(*p[0]) : "";
                      std::string out;
                      bool first = true;
                      for (const Value& e : iterate(v)) {
                        out += (first ? "" : sep) + to_str(e);
                        first = false;
                      }
                      return out;
                    })},
      {"last",
       with("last", {}, [](const Value& v, const Params&) { return first_or_last(v, false); })},
      {"length", with("length", {}, [](const Value& v, const Params&) { return length(v); })},
      {"count", with("count", {}, [](const Value& v, const Params&) { return length(v); })},
      {"list", with("list", {},
                    [](const Value& v, const Params&) -> Value {
                      Value out = Value::array();
                      for (Value& e : iterate(v)) out.push_back(std::move(e));
                      return out;
                    })},
      {"lower", with("lower", {},
                     [](const Value& v, const Params&) -> Value {
                       return plugin_support::python_lower(to_str(v));
                     })},
      {"upper", with("upper", {},
                     [](const Value& v, const Params&) -> Value {
                       return plugin_support::python_upper(to_str(v));
                     })},
      {"regex_replace", with("regex_replace", {"pattern", "repl", "count"}, regex_replace)},
      {"replace", with("replace", {"old", "new", "count"},
                       [](const Value& v, const Params& p) -> Value {
                         const std::string old_text = string_arg(p[0], "replace: old");
                         const std::string new_text = string_arg(p[1], "replace: new");
                         const int64_t count =
                             p[2] && !p[2]->is_null() ? as_int(*p[2], "replace: count") : -1;
                         return py::replace(to_str(v), old_text, new_text, count);
                       })},
      {"reverse", with("reverse", {},
                       [](const Value& v, const Params&) -> Value {
                         std::vector<Value> items = iterate(v);
                         std::reverse(items.begin(), items.end());
                         if (v.is_string()) {
                           std::string out;
                           for (const Value& e : items) out += e.get<std::string>();
                           return out;
                         }
                         return Value(items);
                       })},
      {"string",
       with("string", {}, [](const Value& v, const Params&) -> Value { return to_str(v); })},
      {"sum", with("sum", {"attribute", "start"},
                   [](const Value& v, const Params& p) {
                     if (p[0]) fail("sum: attribute= is not supported");
                     Value total = p[1] ? *p[1] : Value(0);
                     for (const Value& e : iterate(v)) total = binary_op("+", total, e);
                     return total;
                   })},
      {"trim", with("trim", {"chars"},
                    [](const Value& v, const Params& p) -> Value {
                      return py::strip(to_str(v), optional_string(p[0], "trim: chars"), true, true);
                    })},
  };
  return kFilters;
}

std::string known_filters() {
  std::string out = "default";
  for (const auto& [name, f] : filters()) out += ", " + name;
  return out + ", map";
}

}  // namespace

Value apply_filter(const std::string& name, const Value& operand, const Args& args,
                   const Kwargs& kwargs) {
  if (name == "map") {
    // map('filter', args...) or map(attribute='name').
    Value out = Value::array();
    if (args.empty()) {
      const auto p = bind_args("map", args, kwargs, {"attribute", "default"});
      const std::string attribute = string_arg(p[0], "map: attribute");
      for (const Value& e : iterate(operand)) {
        try {
          out.push_back(get_attr(e, attribute));
        } catch (const Problem& problem) {
          if (!problem.undefined || !p[1]) throw;
          out.push_back(*p[1]);
        }
      }
      return out;
    }
    if (!args[0].is_string()) fail("map: the filter name must be a string");
    const Args rest(args.begin() + 1, args.end());
    for (const Value& e : iterate(operand)) {
      out.push_back(apply_filter(args[0].get<std::string>(), e, rest, kwargs));
    }
    return out;
  }
  const auto it = filters().find(name);
  if (it == filters().end()) {
    fail("filter '" + name + "' is not supported (supported: " + known_filters() + ")");
  }
  return it->second(operand, args, kwargs);
}

}  // namespace compass::jinja
