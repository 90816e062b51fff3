// Jinja's tests ("x is string"); `defined` and `undefined` are applied by
// the evaluator, which must see a missing value.
#include "builtins.h"
#include "compass/plugin_support/text.h"

namespace compass::jinja {

namespace {

const Value& only_arg(const std::string& name, const Args& args) {
  if (args.size() != 1) fail("test '" + name + "' takes one argument");
  return args[0];
}

}  // namespace

bool apply_test(const std::string& name, const Value& v, const Args& args) {
  if (name != "divisibleby" && name != "in" && name != "eq" && name != "equalto" && name != "ne" &&
      !args.empty()) {
    fail("test '" + name + "' takes no argument");
  }
  if (name == "none") return v.is_null();
  if (name == "boolean") return v.is_boolean();
  if (name == "true") return v.is_boolean() && v.get<bool>();
  if (name == "false") return v.is_boolean() && !v.get<bool>();
  if (name == "integer") return v.is_number_integer();
  if (name == "float") return v.is_number_float();
  if (name == "number") return v.is_number() || v.is_boolean();
  if (name == "string") return v.is_string();
  if (name == "mapping") return v.is_object();
  if (name == "sequence" || name == "iterable") {
    return v.is_string() || v.is_array() || v.is_object();
  }
  if (name == "odd" || name == "even") {
    const int64_t i = as_int(v, "test '" + name + "' operand");
    return ((i % 2) != 0) == (name == "odd");
  }
  if (name == "divisibleby") {
    const int64_t d = as_int(only_arg(name, args), "divisibleby's argument");
    if (d == 0) fail("integer division or modulo by zero");
    return as_int(v, "divisibleby's operand") % d == 0;
  }
  if (name == "lower" || name == "upper") {
    if (!v.is_string()) return false;
    const std::string& s = v.get_ref<const std::string&>();
    return name == "lower" ? plugin_support::python_lower(s) == s
                           : plugin_support::python_upper(s) == s;
  }
  if (name == "in") return compare_op("in", v, only_arg(name, args));
  if (name == "eq" || name == "equalto") return equal(v, only_arg(name, args));
  if (name == "ne") return !equal(v, only_arg(name, args));
  fail("test '" + name +
       "' is not supported (supported: defined, undefined, none, boolean, true, false, integer, "
       "float, number, string, mapping, sequence, iterable, odd, even, divisibleby, lower, upper, "
       "in, eq, ne)");
}

}  // namespace compass::jinja
