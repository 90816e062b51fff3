// Values of the Jinja subset and how Python prints them.
//
// A value is a JSON value that keeps the order of object keys (Python dicts
// keep insertion order): None, bool, int (64-bit), float, str (UTF-8), list
// and dict. JSON records are read as they are; template literals give the
// same types.
#ifndef COMPASS_JINJA_VALUE_H_
#define COMPASS_JINJA_VALUE_H_

#include <nlohmann/json.hpp>

#include <string>

namespace compass::jinja {

using Value = nlohmann::ordered_json;

// Python's str(value), which is what {{ value }} prints: a string as is,
// True/False, None, an int in decimal, a float as repr() writes it (1.0,
// 0.1, 1e+16, inf, nan), a list or dict as repr() ("['a', 1]", "{'k': None}").
std::string to_str(const Value& value);

// Python's repr(value): strings quoted as Python quotes them ('it''s' is
// "it's"; \n, \t, \\ and unprintable characters escaped).
std::string repr(const Value& value);

// Python's float repr: the shortest digits that round-trip, in positional
// form for exponents -4..15, else as 1e+16 / 1e-05.
std::string float_repr(double value);

// Python's truth value: None, False, 0, 0.0, "", [] and {} are false.
bool truthy(const Value& value);

// Python's type name: "str", "int", "float", "bool", "NoneType", "list",
// "dict", for messages.
std::string type_name(const Value& value);

// Python's ==: numbers compare by value across int, float and bool; lists
// and dicts element by element.
bool equal(const Value& a, const Value& b);

}  // namespace compass::jinja

#endif  // COMPASS_JINJA_VALUE_H_
