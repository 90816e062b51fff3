// The Jinja parser: the lexer's segments into a syntax tree, with Jinja's
// operator precedence (lowest first: x if c else y; or; and; not;
// comparisons and in; + -; ~; * / // %; **; unary - +; then filters and
// tests, which bind tighter than every binary operator: "-x|abs" is
// "(-x)|abs", "a ~ b|upper" is "a ~ (b|upper)").
//
// Statements: if / elif / else / endif, for NAME[, NAME] in EXPR / else /
// endfor, set NAME = EXPR. Anything else (macros, blocks, includes, filter
// sections, loop filters, recursive loops) is a SyntaxError naming it.
#ifndef COMPASS_JINJA_PARSER_H_
#define COMPASS_JINJA_PARSER_H_

#include "ast.h"

#include <string_view>
#include <vector>

namespace compass::jinja {

std::vector<Node> parse(std::string_view source);

}  // namespace compass::jinja

#endif  // COMPASS_JINJA_PARSER_H_
