#include "lexer.h"

#include "compass/jinja/error.h"
#include "compass/plugin_support/text.h"

#include <cctype>
#include <cstdio>
#include <cstdlib>

namespace compass::jinja {

namespace {

using plugin_support::append_utf8;
using plugin_support::decode_utf8;
using plugin_support::is_python_space;

std::string normalize_newlines(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (size_t i = 0; i < text.size(); ++i) {
    if (text[i] == '\r') {
      out += '\n';
      if (i + 1 < text.size() && text[i + 1] == '\n') ++i;
    } else {
      out += text[i];
    }
  }
  return out;
}

// Python's str.rstrip() / lstrip() on UTF-8 (the \s of Jinja's lexer).
void rstrip(std::string& text) {
  size_t end = text.size();
  while (end > 0) {
    size_t start = end - 1;
    while (start > 0 && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    size_t len = 1;
    if (!is_python_space(decode_utf8(text, start, len))) break;
    end = start;
  }
  text.resize(end);
}

size_t skip_space(std::string_view text, size_t i) {
  while (i < text.size()) {
    size_t len = 1;
    if (!is_python_space(decode_utf8(text, i, len))) break;
    i += len;
  }
  return i;
}

class Lexer {
 public:
  explicit Lexer(std::string_view source) : src_(source) {}

  std::vector<Segment> run() {
    std::vector<Segment> out;
    size_t i = 0;
    bool strip_next = false;  // the previous tag ended with '-'
    while (i <= src_.size()) {
      const size_t open = find_open(i);
      std::string text(src_.substr(i, (open == std::string_view::npos ? src_.size() : open) - i));
      if (strip_next) text.erase(0, skip_space(text, 0));
      strip_next = false;
      if (open == std::string_view::npos) {
        push_text(out, std::move(text), i);
        break;
      }
      const char kind = src_[open + 1];
      size_t body = open + 2;
      if (body < src_.size() && src_[body] == '-') {
        rstrip(text);
        ++body;
      } else if (body < src_.size() && src_[body] == '+') {
        ++body;  // lstrip_blocks is off: '+' changes nothing
      }
      push_text(out, std::move(text), i);
      if (kind == '#') {
        const size_t close = src_.find("#}", body);
        if (close == std::string_view::npos) fail(open, "comment '{#' is never closed with '#}'");
        strip_next = close > body && src_[close - 1] == '-';
        i = close + 2;
        continue;
      }
      Segment segment;
      segment.type = kind == '{' ? Segment::Type::kOutput : Segment::Type::kStatement;
      segment.offset = open;
      i = tokens(body, kind == '{' ? '}' : '%', open, segment.tokens, strip_next);
      out.push_back(std::move(segment));
    }
    return out;
  }

 private:
  [[noreturn]] void fail(size_t offset, const std::string& problem) const {
    throw SyntaxError(problem + " " + position(src_, offset));
  }

  size_t find_open(size_t from) const {
    for (size_t i = from; i + 1 < src_.size(); ++i) {
      if (src_[i] == '{' && (src_[i + 1] == '{' || src_[i + 1] == '%' || src_[i + 1] == '#')) {
        return i;
      }
    }
    return std::string_view::npos;
  }

  static void push_text(std::vector<Segment>& out, std::string text, size_t offset) {
    if (text.empty()) return;
    Segment segment;
    segment.type = Segment::Type::kText;
    segment.text = normalize_newlines(text);
    segment.offset = offset;
    out.push_back(std::move(segment));
  }

  // Tokens of one tag from `i` up to its closing "}}" or "%}" (the
  // closing delimiter counts only outside brackets, as in Jinja); returns
  // the offset after it.
  size_t tokens(size_t i, char closing, size_t open, std::vector<Token>& out, bool& strip_next) {
    std::vector<char> brackets;
    while (true) {
      i = skip_space(src_, i);
      if (i >= src_.size()) {
        fail(open, "tag '" + std::string(src_.substr(open, 2)) + "' is never closed with '" +
                       closing + "}'");
      }
      const char c = src_[i];
      if (brackets.empty()) {
        if (c == '-' && i + 2 < src_.size() && src_[i + 1] == closing && src_[i + 2] == '}') {
          strip_next = true;
          out.push_back(end_token(i));
          return i + 3;
        }
        if (c == closing && i + 1 < src_.size() && src_[i + 1] == '}') {
          out.push_back(end_token(i));
          return i + 2;
        }
      }
      Token token;
      token.offset = i;
      if (std::isalpha(static_cast<unsigned char>(c)) || c == '_') {
        size_t end = i;
        while (end < src_.size() &&
               (std::isalnum(static_cast<unsigned char>(src_[end])) || src_[end] == '_')) {
          ++end;
        }
        token.type = Token::Type::kName;
        token.text = src_.substr(i, end - i);
        i = end;
      } else if (std::isdigit(static_cast<unsigned char>(c))) {
        i = number(i, token);
      } else if (c == '\'' || c == '"') {
        i = string(i, token);
      } else {
        i = op(i, token, brackets);
      }
      out.push_back(std::move(token));
    }
  }

  static Token end_token(size_t offset) {
    Token t;
    t.type = Token::Type::kEnd;
    t.offset = offset;
    return t;
  }

  size_t number(size_t i, Token& token) const {
    std::string digits;
    bool is_float = false;
    size_t j = i;
    const auto take_digits = [&] {
      while (j < src_.size() &&
             (std::isdigit(static_cast<unsigned char>(src_[j])) || src_[j] == '_')) {
        if (src_[j] != '_') digits += src_[j];
        ++j;
      }
    };
    take_digits();
    if (j + 1 < src_.size() && src_[j] == '.' &&
        std::isdigit(static_cast<unsigned char>(src_[j + 1]))) {
      is_float = true;
      digits += '.';
      ++j;
      take_digits();
    }
    if (j < src_.size() && (src_[j] == 'e' || src_[j] == 'E')) {
      size_t k = j + 1;
      if (k < src_.size() && (src_[k] == '+' || src_[k] == '-')) ++k;
      if (k < src_.size() && std::isdigit(static_cast<unsigned char>(src_[k]))) {
        is_float = true;
        digits += 'e';
        digits.append(src_.substr(j + 1, k - j - 1));
        j = k;
        take_digits();
      }
    }
    token.offset = i;
    if (is_float) {
      token.type = Token::Type::kFloat;
      // strtod, not stod: 1e999 is inf and 1e-999 is 0.0, as in Python.
      token.number = std::strtod(digits.c_str(), nullptr);
    } else {
      token.type = Token::Type::kInteger;
      try {
        token.integer = std::stoll(digits);
      } catch (const std::out_of_range&) {
        fail(i, "integer " + digits + " is too large (the limit is 64 bits)");
      }
    }
    return j;
  }

  // A string literal with Python's escapes.
  size_t string(size_t i, Token& token) const {
    const char quote = src_[i];
    std::string value;
    size_t j = i + 1;
    while (true) {
      if (j >= src_.size()) fail(i, "string literal is never closed");
      const char c = src_[j];
      if (c == quote) break;
      if (c != '\\' || j + 1 >= src_.size()) {
        value += c;
        ++j;
        continue;
      }
      const char e = src_[j + 1];
      j += 2;
      switch (e) {
        case 'n': value += '\n'; break;
        case 't': value += '\t'; break;
        case 'r': value += '\r'; break;
        case '0': value += '\0'; break;
        case 'a': value += '\a'; break;
        case 'b': value += '\b'; break;
        case 'f': value += '\f'; break;
        case 'v': value += '\v'; break;
        case '\\': value += '\\'; break;
        case '\'': value += '\''; break;
        case '"': value += '"'; break;
        case '\n': break;  // an escaped line break continues the line
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (j + n > src_.size()) fail(j - 2, "truncated \\" + std::string(1, e) + " escape");
          uint32_t cp = 0;
          for (size_t k = 0; k < n; ++k) {
            const char h = src_[j + k];
            if (!std::isxdigit(static_cast<unsigned char>(h))) {
              fail(j - 2, "bad \\" + std::string(1, e) + " escape");
            }
            cp = cp * 16 + static_cast<uint32_t>(std::isdigit(static_cast<unsigned char>(h))
                                                     ? h - '0'
                                                     : std::tolower(h) - 'a' + 10);
          }
          if (cp > 0x10FFFF) fail(j - 2, "escape beyond U+10FFFF");
          append_utf8(value, cp);
          j += n;
          break;
        }
        default:  // Python keeps unknown escapes as they are
          value += '\\';
          value += e;
      }
    }
    token.type = Token::Type::kString;
    token.text = normalize_newlines(value);
    return j + 1;
  }

  size_t op(size_t i, Token& token, std::vector<char>& brackets) const {
    static const char* const kOps[] = {"//", "**", "==", "!=", "<=", ">=", "+", "-", "*",
                                       "/",  "%",  "~",  "<",  ">",  "=",  "(", ")", "[",
                                       "]",  "{",  "}",  ".",  ",",  ":",  "|"};
    for (const char* candidate : kOps) {
      const std::string_view op_text(candidate);
      if (src_.substr(i, op_text.size()) != op_text) continue;
      token.type = Token::Type::kOperator;
      token.text = op_text;
      const char c = op_text[0];
      if (op_text.size() == 1 && (c == '(' || c == '[' || c == '{')) {
        brackets.push_back(c == '(' ? ')' : c == '[' ? ']' : '}');
      } else if (op_text.size() == 1 && (c == ')' || c == ']' || c == '}')) {
        if (brackets.empty() || brackets.back() != c) {
          fail(i, std::string("unexpected '") + c + "'");
        }
        brackets.pop_back();
      }
      return i + op_text.size();
    }
    size_t len = 1;
    const uint32_t cp = decode_utf8(src_, i, len);
    std::string shown;
    append_utf8(shown, cp);
    fail(i, "unexpected character '" + shown + "'");
  }

  std::string_view src_;
};

}  // namespace

std::vector<Segment> lex(std::string_view source) {
  return Lexer(source).run();
}

std::string position(std::string_view source, size_t offset) {
  size_t line = 1, column = 1;
  for (size_t i = 0; i < offset && i < source.size(); ++i) {
    if (source[i] == '\n') {
      ++line;
      column = 1;
    } else if ((static_cast<unsigned char>(source[i]) & 0xC0) != 0x80) {
      ++column;
    }
  }
  const bool several_lines = source.find('\n') != std::string_view::npos;
  return several_lines ? "at line " + std::to_string(line) + ", column " + std::to_string(column)
                       : "at column " + std::to_string(column);
}

}  // namespace compass::jinja
