// Python's ast.literal_eval for the literals templates print: what
// lm-evaluation-harness applies to a rendered doc_to_choice ("['a', 'b']")
// and to a doc_to_target that looks like a list.
#ifndef COMPASS_JINJA_PYTHON_LITERAL_H_
#define COMPASS_JINJA_PYTHON_LITERAL_H_

#include "compass/jinja/value.h"

#include <string_view>

namespace compass::jinja {

// Parses strings (single, double or triple quoted, with Python's escapes
// and r/b-less prefixes only), integers, floats, True/False/None, unary
// minus, and lists, tuples (as lists) and dicts of those, with surrounding
// whitespace. Throws Error "not a Python literal: <why> at column C" for
// anything else.
Value parse_python_literal(std::string_view text);

}  // namespace compass::jinja

#endif  // COMPASS_JINJA_PYTHON_LITERAL_H_
