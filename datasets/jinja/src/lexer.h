// The Jinja lexer: splits a template into text, {{ output }} and
// {% statement %} segments ({# comments #} dropped), honouring whitespace
// control ('-' strips the whitespace before or after a tag, line breaks
// included), and turns each tag into tokens. Line breaks in text and string
// literals are normalised to "\n", as Jinja does; trailing newlines are
// kept (lm-evaluation-harness sets keep_trailing_newline).
#ifndef COMPASS_JINJA_LEXER_H_
#define COMPASS_JINJA_LEXER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace compass::jinja {

struct Token {
  enum class Type { kName, kString, kInteger, kFloat, kOperator, kEnd };
  Type type = Type::kEnd;
  std::string text;  // a name, an operator, or a string literal's value
  int64_t integer = 0;
  double number = 0;
  size_t offset = 0;  // in the template

  bool is(Type t, std::string_view value) const { return type == t && text == value; }
  bool is_op(std::string_view op) const { return is(Type::kOperator, op); }
  bool is_name(std::string_view name) const { return is(Type::kName, name); }
};

struct Segment {
  enum class Type { kText, kOutput, kStatement };
  Type type = Type::kText;
  std::string text;           // kText
  std::vector<Token> tokens;  // kOutput, kStatement: ends with a kEnd token
  size_t offset = 0;
};

// Throws SyntaxError for an unclosed tag, comment or string, a character
// that starts no token, or an unbalanced bracket.
std::vector<Segment> lex(std::string_view source);

// "at column C", or "at line L, column C" when the template has several
// lines (1-based, in code points).
std::string position(std::string_view source, size_t offset);

}  // namespace compass::jinja

#endif  // COMPASS_JINJA_LEXER_H_
