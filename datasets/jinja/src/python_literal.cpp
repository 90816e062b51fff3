#include "compass/jinja/python_literal.h"

#include "builtins.h"
#include "compass/jinja/error.h"
#include "compass/plugin_support/text.h"

#include <cctype>
#include <cstdlib>

namespace compass::jinja {

namespace {

class LiteralParser {
 public:
  explicit LiteralParser(std::string_view text) : s_(text) {}

  Value run() {
    Value v = value();
    space();
    if (i_ != s_.size()) error("unexpected text after the value");
    return v;
  }

 private:
  [[noreturn]] void error(const std::string& why) const {
    throw Error("not a Python literal: " + why + " at column " +
                std::to_string(plugin_support::count_code_points(s_.substr(0, i_)) + 1));
  }

  void space() {
    while (i_ < s_.size() && std::isspace(static_cast<unsigned char>(s_[i_]))) ++i_;
  }

  bool accept(char c) {
    space();
    if (i_ < s_.size() && s_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }

  Value value() {
    space();
    if (i_ >= s_.size()) error("unexpected end");
    const char c = s_[i_];
    if (c == '[' || c == '(') return sequence(c == '[' ? ']' : ')');
    if (c == '{') return dict();
    if (c == '\'' || c == '"') {
      std::string text = string();
      space();
      while (i_ < s_.size() && (s_[i_] == '\'' || s_[i_] == '"')) {
        text += string();
        space();
      }
      return text;
    }
    if (c == '-' || c == '+') {
      ++i_;
      const Value v = value();
      if (!v.is_number()) error("a sign applies only to a number");
      if (c == '+') return v;
      return v.is_number_float() ? Value(-v.get<double>()) : Value(-v.get<int64_t>());
    }
    if (std::isdigit(static_cast<unsigned char>(c)) || c == '.') return number();
    for (const auto& [word, v] :
         {std::pair<const char*, Value>{"True", true}, {"False", false}, {"None", nullptr}}) {
      const std::string_view w(word);
      if (s_.substr(i_, w.size()) == w &&
          (i_ + w.size() == s_.size() ||
           !(std::isalnum(static_cast<unsigned char>(s_[i_ + w.size()])) ||
             s_[i_ + w.size()] == '_'))) {
        i_ += w.size();
        return v;
      }
    }
    error("unexpected character");
  }

  Value sequence(char close) {
    ++i_;
    Value out = Value::array();
    bool comma = false;
    while (!accept(close)) {
      if (!out.empty() && !comma) error(std::string("expected ',' or '") + close + "'");
      out.push_back(value());
      comma = accept(',');
    }
    // (x) without a comma is x itself, as in Python.
    if (close == ')' && out.size() == 1 && !comma) return out[0];
    return out;
  }

  Value dict() {
    ++i_;
    Value out = Value::object();
    bool comma = true;
    while (!accept('}')) {
      if (!comma) error("expected ',' or '}'");
      const Value key = value();
      if (!accept(':')) error("expected ':' in a dict");
      std::string k;
      try {
        k = dict_key(key);
      } catch (const Problem& p) {
        error(p.message);
      }
      out[k] = value();
      comma = accept(',');
    }
    return out;
  }

  Value number() {
    const size_t start = i_;
    std::string digits;
    bool is_float = false;
    while (i_ < s_.size()) {
      const char c = s_[i_];
      if (std::isdigit(static_cast<unsigned char>(c))) {
        digits += c;
      } else if (c == '_') {
      } else if (c == '.' || c == 'e' || c == 'E') {
        is_float = true;
        digits += c;
        if ((c == 'e' || c == 'E') && i_ + 1 < s_.size() &&
            (s_[i_ + 1] == '-' || s_[i_ + 1] == '+')) {
          digits += s_[++i_];
        }
      } else {
        break;
      }
      ++i_;
    }
    char* end = nullptr;
    if (is_float) {
      const double d = std::strtod(digits.c_str(), &end);
      if (end != digits.c_str() + digits.size()) {
        i_ = start;
        error("bad number");
      }
      return d;
    }
    errno = 0;
    const long long v = std::strtoll(digits.c_str(), &end, 10);
    if (errno != 0 || digits.empty()) {
      i_ = start;
      error("integer out of the 64-bit range");
    }
    if (digits.size() > 1 && digits[0] == '0' && v != 0) {
      i_ = start;
      error("leading zeros in a decimal integer");
    }
    return static_cast<int64_t>(v);
  }

  std::string string() {
    const char quote = s_[i_];
    const bool triple = s_.substr(i_, 3) == std::string(3, quote);
    i_ += triple ? 3 : 1;
    std::string out;
    while (true) {
      if (i_ >= s_.size()) error("unterminated string");
      const char c = s_[i_];
      if (triple ? s_.substr(i_, 3) == std::string(3, quote) : c == quote) {
        i_ += triple ? 3 : 1;
        return out;
      }
      if (c == '\n' && !triple) error("line break in a string");
      if (c != '\\') {
        out += c;
        ++i_;
        continue;
      }
      if (i_ + 1 >= s_.size()) error("unterminated string");
      const char e = s_[i_ + 1];
      i_ += 2;
      switch (e) {
        case '\n': break;
        case '\\': out += '\\'; break;
        case '\'': out += '\''; break;
        case '"': out += '"'; break;
        case 'a': out += '\a'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'v': out += '\v'; break;
        case 'x':
        case 'u':
        case 'U': {
          const size_t n = e == 'x' ? 2 : e == 'u' ? 4 : 8;
          if (i_ + n > s_.size()) error("truncated escape");
          const std::string hex(s_.substr(i_, n));
          char* end = nullptr;
          const unsigned long cp = std::strtoul(hex.c_str(), &end, 16);
          if (end != hex.c_str() + n || cp > 0x10FFFF) error("bad escape");
          plugin_support::append_utf8(out, static_cast<uint32_t>(cp));
          i_ += n;
          break;
        }
        default:
          if (e >= '0' && e <= '7') {  // up to three octal digits
            uint32_t cp = static_cast<uint32_t>(e - '0');
            for (int k = 0; k < 2 && i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '7'; ++k) {
              cp = cp * 8 + static_cast<uint32_t>(s_[i_++] - '0');
            }
            plugin_support::append_utf8(out, cp);
          } else {
            out += '\\';
            out += e;
          }
      }
    }
  }

  std::string_view s_;
  size_t i_ = 0;
};

}  // namespace

Value parse_python_literal(std::string_view text) {
  return LiteralParser(text).run();
}

}  // namespace compass::jinja
