// Errors of the Jinja subset: a template that does not parse, and one that
// fails while rendering (an undefined name, a type error, a bad argument).
#ifndef COMPASS_JINJA_ERROR_H_
#define COMPASS_JINJA_ERROR_H_

#include <stdexcept>
#include <string>

namespace compass::jinja {

// what() is one line saying what is wrong and where in the template
// ("at column 12", or "at line 2, column 5" in a template of several lines).
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A template that is not valid in the supported subset.
class SyntaxError : public Error {
 public:
  using Error::Error;
};

// A name, attribute or element that does not exist (Jinja's StrictUndefined,
// as lm-evaluation-harness configures it). `is defined` and the `default`
// filter catch it; anything else that uses the value fails with it.
class UndefinedError : public Error {
 public:
  using Error::Error;
};

}  // namespace compass::jinja

#endif  // COMPASS_JINJA_ERROR_H_
