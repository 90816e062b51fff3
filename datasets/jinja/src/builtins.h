// What expressions are evaluated with: operators, item and attribute
// access, filters, tests and methods, with Python's semantics for the types
// of value.h. They report failures as a Problem without a position; the
// evaluator adds the position of the expression that failed.
#ifndef COMPASS_JINJA_BUILTINS_H_
#define COMPASS_JINJA_BUILTINS_H_

#include "compass/jinja/value.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace compass::jinja {

struct Problem {
  std::string message;
  bool undefined = false;  // a missing name, key, attribute or element
};
[[noreturn]] void fail(std::string message);
[[noreturn]] void fail_undefined(std::string message);

using Args = std::vector<Value>;
using Kwargs = std::vector<std::pair<std::string, Value>>;

// Positional and keyword arguments matched to parameter `names` in order;
// a missing one is nullopt. Too many arguments, an unknown keyword or one
// given twice is a Problem naming `function`.
std::vector<std::optional<Value>> bind_args(const std::string& function, const Args& args,
                                            const Kwargs& kwargs,
                                            const std::vector<const char*>& names);

// An int (a bool counts as 0 or 1) or a Problem "<what> must be an integer".
int64_t as_int(const Value& value, const std::string& what);

// Dict keys: a str is itself; None, bools, ints and integral floats (equal
// in Python, so the same key) are written "\x01<repr>". key_value reverses it.
std::string dict_key(const Value& key);
Value key_value(const std::string& key);

// operators.cpp
Value binary_op(const std::string& op, const Value& a, const Value& b);
// ==, !=, <, >, <=, >=, in, not in.
bool compare_op(const std::string& op, const Value& a, const Value& b);
Value unary_op(bool minus, const Value& v);
// obj[key] and obj.name as Jinja resolves them; missing ones are undefined.
Value get_item(const Value& object, const Value& key);
Value get_attr(const Value& object, const std::string& name);
Value get_slice(const Value& object, std::optional<int64_t> start, std::optional<int64_t> stop,
                std::optional<int64_t> step);
// What a for loop or list() goes through: a list's elements, a str's code
// points, a dict's keys.
std::vector<Value> iterate(const Value& value);

// filters.cpp: every filter but `default`, which the evaluator applies.
Value apply_filter(const std::string& name, const Value& operand, const Args& args,
                   const Kwargs& kwargs);
// tests.cpp: every test but `defined` / `undefined`.
bool apply_test(const std::string& name, const Value& operand, const Args& args);
// methods.cpp: str, list and dict methods.
bool has_method(const Value& object, const std::string& name);
Value call_method(const Value& object, const std::string& name, const Args& args,
                  const Kwargs& kwargs);

}  // namespace compass::jinja

#endif  // COMPASS_JINJA_BUILTINS_H_
