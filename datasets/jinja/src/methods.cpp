// Methods of str, list and dict values that templates call
// ("sentence.index('_')", "support.lstrip()", "doc.get('x', '')").
#include "builtins.h"
#include "compass/plugin_support/text.h"
#include "python_str.h"

#include <algorithm>
#include <stdexcept>

namespace compass::jinja {

namespace {

using Params = std::vector<std::optional<Value>>;

const char* const kStrMethods[] = {
    "strip",      "lstrip",   "rstrip", "split", "replace", "lower", "upper", "capitalize",
    "startswith", "endswith", "index",  "find",  "rfind",   "count", "join",  "isdigit"};
const char* const kListMethods[] = {"index", "count"};
const char* const kDictMethods[] = {"keys", "values", "items", "get"};

template <size_t N>
bool in(const char* const (&names)[N], const std::string& name) {
  return std::find_if(std::begin(names), std::end(names),
                      [&](const char* n) { return name == n; }) != std::end(names);
}

std::optional<std::string> opt_string(const std::optional<Value>& v, const std::string& what) {
  if (!v || v->is_null()) return std::nullopt;
  if (!v->is_string()) fail(what + " must be None or a string, not " + type_name(*v));
  return v->get<std::string>();
}

std::string req_string(const std::optional<Value>& v, const std::string& what) {
  if (!v) fail(what + " is required");
  if (!v->is_string()) fail(what + " must be a string, not " + type_name(*v));
  return v->get<std::string>();
}

std::optional<int64_t> opt_int(const std::optional<Value>& v, const std::string& what) {
  if (!v || v->is_null()) return std::nullopt;
  return as_int(*v, what);
}

Value str_method(const std::string& s, const std::string& name, const Args& args,
                 const Kwargs& kwargs) {
  const std::string fn = "str." + name;
  if (name == "strip" || name == "lstrip" || name == "rstrip") {
    const auto p = bind_args(fn, args, kwargs, {"chars"});
    return py::strip(s, opt_string(p[0], fn + "() argument"), name != "rstrip", name != "lstrip");
  }
  if (name == "split") {
    const auto p = bind_args(fn, args, kwargs, {"sep", "maxsplit"});
    try {
      Value out = Value::array();
      for (auto& part :
           py::split(s, opt_string(p[0], "sep"), opt_int(p[1], "maxsplit").value_or(-1))) {
        out.push_back(std::move(part));
      }
      return out;
    } catch (const std::invalid_argument& e) {
      fail(e.what());
    }
  }
  if (name == "replace") {
    const auto p = bind_args(fn, args, kwargs, {"old", "new", "count"});
    return py::replace(s, req_string(p[0], "replace() old"), req_string(p[1], "replace() new"),
                       opt_int(p[2], "count").value_or(-1));
  }
  if (name == "lower" || name == "upper" || name == "capitalize" || name == "isdigit") {
    bind_args(fn, args, kwargs, {});
    if (name == "lower") return plugin_support::python_lower(s);
    if (name == "upper") return plugin_support::python_upper(s);
    if (name == "capitalize") return plugin_support::python_capitalize(s);
    return !s.empty() &&
           std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
  }
  if (name == "startswith" || name == "endswith") {
    const auto p = bind_args(fn, args, kwargs, {"prefix", "start", "end"});
    if (!p[0]) fail(fn + "() takes at least 1 argument (0 given)");
    const auto window = [&] {
      const int64_t n = py::length(s);
      const auto clamp = [&](std::optional<int64_t> i, int64_t d) {
        if (!i) return d;
        return std::clamp<int64_t>(*i < 0 ? *i + n : *i, 0, n);
      };
      return py::substr(s, clamp(opt_int(p[1], "start"), 0), clamp(opt_int(p[2], "end"), n));
    }();
    std::vector<Value> candidates;
    if (p[0]->is_array()) {
      candidates.assign(p[0]->begin(), p[0]->end());
    } else {
      candidates.push_back(*p[0]);
    }
    for (const Value& c : candidates) {
      if (!c.is_string())
        fail(fn + " first arg must be str or a tuple of str, not " + type_name(c));
      const std::string& t = c.get_ref<const std::string&>();
      const bool hit = name == "startswith"
                           ? window.rfind(t, 0) == 0
                           : window.size() >= t.size() &&
                                 window.compare(window.size() - t.size(), t.size(), t) == 0;
      if (hit) return true;
    }
    return false;
  }
  if (name == "index" || name == "find" || name == "rfind") {
    const auto p = bind_args(fn, args, kwargs, {"sub", "start", "end"});
    const int64_t at = py::find(s, req_string(p[0], fn + "() argument"), opt_int(p[1], "start"),
                                opt_int(p[2], "end"), name == "rfind");
    if (at < 0 && name == "index") fail("substring not found (str.index of " + repr(*p[0]) + ")");
    return at;
  }
  if (name == "count") {
    const auto p = bind_args(fn, args, kwargs, {"sub"});
    return py::count(s, req_string(p[0], "count() argument"));
  }
  // join
  const auto p = bind_args(fn, args, kwargs, {"iterable"});
  if (!p[0]) fail("str.join() takes exactly one argument (0 given)");
  std::string out;
  bool first = true;
  for (const Value& e : iterate(*p[0])) {
    if (!e.is_string()) {
      fail("sequence item: expected str instance, " + type_name(e) + " found (str.join)");
    }
    out += (first ? "" : s) + e.get<std::string>();
    first = false;
  }
  return out;
}

Value list_method(const Value& list, const std::string& name, const Args& args,
                  const Kwargs& kwargs) {
  const auto p = bind_args("list." + name, args, kwargs, {"value"});
  if (!p[0]) fail("list." + name + "() takes exactly one argument (0 given)");
  int64_t n = 0;
  for (size_t i = 0; i < list.size(); ++i) {
    if (!equal(list[i], *p[0])) continue;
    if (name == "index") return static_cast<int64_t>(i);
    ++n;
  }
  if (name == "index") fail(repr(*p[0]) + " is not in list");
  return n;
}

Value dict_method(const Value& dict, const std::string& name, const Args& args,
                  const Kwargs& kwargs) {
  if (name == "get") {
    const auto p = bind_args("dict.get", args, kwargs, {"key", "default"});
    if (!p[0]) fail("dict.get() takes at least 1 argument (0 given)");
    const auto it = dict.find(dict_key(*p[0]));
    return it != dict.end() ? *it : (p[1] ? *p[1] : Value(nullptr));
  }
  bind_args("dict." + name, args, kwargs, {});
  Value out = Value::array();
  for (const auto& [key, value] : dict.items()) {
    if (name == "keys") {
      out.push_back(key_value(key));
    } else if (name == "values") {
      out.push_back(value);
    } else {
      out.push_back(Value::array({key_value(key), value}));
    }
  }
  return out;
}

}  // namespace

bool has_method(const Value& object, const std::string& name) {
  if (object.is_string()) return in(kStrMethods, name);
  if (object.is_array()) return in(kListMethods, name);
  if (object.is_object()) return in(kDictMethods, name);
  return false;
}

Value call_method(const Value& object, const std::string& name, const Args& args,
                  const Kwargs& kwargs) {
  if (!has_method(object, name)) {
    const char* kind = object.is_string() ? "str" : object.is_array() ? "list" : "dict";
    if (object.is_string() || object.is_array() || object.is_object()) {
      fail(std::string(kind) + " method '" + name + "' is not supported");
    }
    fail("'" + type_name(object) + "' object has no method '" + name + "'");
  }
  if (object.is_string()) return str_method(object.get<std::string>(), name, args, kwargs);
  if (object.is_array()) return list_method(object, name, args, kwargs);
  return dict_method(object, name, args, kwargs);
}

}  // namespace compass::jinja
