// Renders a parsed template against a document: the document's keys are
// the names the template reads; `set` and `for` bind names in scopes (a
// loop's body is a new scope on each pass, as in Jinja). A failure is an
// Error (UndefinedError for a missing value) naming the position.
#ifndef COMPASS_JINJA_EVALUATOR_H_
#define COMPASS_JINJA_EVALUATOR_H_

#include "ast.h"

#include <string>
#include <string_view>
#include <vector>

namespace compass::jinja {

std::string render(const std::vector<Node>& nodes, const Value& doc, std::string_view source);

// The value of one expression.
Value evaluate(const Expr& expr, const Value& doc, std::string_view source);

// The names the template reads from the document: every name used, less
// those it binds itself (set, for, loop) and the function range, in order
// of first use.
std::vector<std::string> free_names(const std::vector<Node>& nodes);

}  // namespace compass::jinja

#endif  // COMPASS_JINJA_EVALUATOR_H_
