#include "parser.h"

#include "compass/jinja/error.h"
#include "lexer.h"

#include <algorithm>
#include <initializer_list>

namespace compass::jinja {

namespace {

ExprPtr make(Expr::Kind kind, size_t offset) {
  auto e = std::make_unique<Expr>();
  e->kind = kind;
  e->offset = offset;
  return e;
}

ExprPtr binary(Expr::Kind kind, std::string op, ExprPtr left, ExprPtr right, size_t offset) {
  ExprPtr e = make(kind, offset);
  e->name = std::move(op);
  e->args.push_back(std::move(left));
  e->args.push_back(std::move(right));
  return e;
}

// Parses the tokens of one tag.
class ExprParser {
 public:
  ExprParser(std::string_view source, const std::vector<Token>& tokens)
      : src_(source), tokens_(tokens) {}

  const Token& peek(size_t ahead = 0) const {
    return tokens_[std::min(pos_ + ahead, tokens_.size() - 1)];
  }
  const Token& next() {
    const Token& t = peek();
    if (pos_ < tokens_.size() - 1) ++pos_;
    return t;
  }
  bool at_end() const { return peek().type == Token::Type::kEnd; }
  bool accept_op(std::string_view op) {
    if (!peek().is_op(op)) return false;
    next();
    return true;
  }
  bool accept_name(std::string_view name) {
    if (!peek().is_name(name)) return false;
    next();
    return true;
  }

  [[noreturn]] void fail(const Token& at, const std::string& problem) const {
    throw SyntaxError(problem + " " + position(src_, at.offset));
  }
  [[noreturn]] void unexpected(const std::string& wanted) const {
    const Token& t = peek();
    fail(t, "expected " + wanted + ", got " + describe(t));
  }
  static std::string describe(const Token& t) {
    switch (t.type) {
      case Token::Type::kEnd: return "the end of the tag";
      case Token::Type::kString: return "a string";
      case Token::Type::kInteger:
      case Token::Type::kFloat: return "a number";
      default: return "'" + t.text + "'";
    }
  }
  void expect_op(std::string_view op) {
    if (!accept_op(op)) unexpected("'" + std::string(op) + "'");
  }
  std::string expect_name() {
    if (peek().type != Token::Type::kName) unexpected("a name");
    return next().text;
  }
  void expect_end() {
    if (!at_end()) unexpected("the end of the tag");
  }

  ExprPtr expression() { return conditional(); }

  // or_expr without the conditional, for `for ... in`.
  ExprPtr or_expression() { return or_expr(); }

 private:
  ExprPtr conditional() {
    ExprPtr value = or_expr();
    while (peek().is_name("if")) {
      const size_t at = next().offset;
      ExprPtr cond = make(Expr::Kind::kCond, at);
      ExprPtr test = or_expr();
      ExprPtr otherwise = accept_name("else") ? conditional() : nullptr;
      cond->args.push_back(std::move(value));
      cond->args.push_back(std::move(test));
      cond->args.push_back(std::move(otherwise));
      value = std::move(cond);
    }
    return value;
  }

  ExprPtr or_expr() {
    ExprPtr left = and_expr();
    while (peek().is_name("or")) {
      const size_t at = next().offset;
      left = binary(Expr::Kind::kOr, "or", std::move(left), and_expr(), at);
    }
    return left;
  }

  ExprPtr and_expr() {
    ExprPtr left = not_expr();
    while (peek().is_name("and")) {
      const size_t at = next().offset;
      left = binary(Expr::Kind::kAnd, "and", std::move(left), not_expr(), at);
    }
    return left;
  }

  ExprPtr not_expr() {
    if (peek().is_name("not")) {
      const size_t at = next().offset;
      ExprPtr e = make(Expr::Kind::kNot, at);
      e->args.push_back(not_expr());
      return e;
    }
    return compare();
  }

  ExprPtr compare() {
    ExprPtr first = math1();
    ExprPtr cmp;
    while (true) {
      const Token& t = peek();
      std::string op;
      if (t.type == Token::Type::kOperator && (t.text == "==" || t.text == "!=" || t.text == "<" ||
                                               t.text == ">" || t.text == "<=" || t.text == ">=")) {
        op = next().text;
      } else if (t.is_name("in")) {
        next();
        op = "in";
      } else if (t.is_name("not") && peek(1).is_name("in")) {
        next();
        next();
        op = "not in";
      } else {
        break;
      }
      if (!cmp) {
        cmp = make(Expr::Kind::kCompare, first->offset);
        cmp->args.push_back(std::move(first));
      }
      cmp->ops.push_back(op);
      cmp->args.push_back(math1());
    }
    return cmp ? std::move(cmp) : std::move(first);
  }

  ExprPtr math1() {
    ExprPtr left = concat();
    while (peek().is_op("+") || peek().is_op("-")) {
      const Token& t = next();
      left = binary(Expr::Kind::kBinary, t.text, std::move(left), concat(), t.offset);
    }
    return left;
  }

  ExprPtr concat() {
    ExprPtr left = math2();
    while (peek().is_op("~")) {
      const size_t at = next().offset;
      left = binary(Expr::Kind::kBinary, "~", std::move(left), math2(), at);
    }
    return left;
  }

  ExprPtr math2() {
    ExprPtr left = power();
    while (peek().is_op("*") || peek().is_op("/") || peek().is_op("//") || peek().is_op("%")) {
      const Token& t = next();
      left = binary(Expr::Kind::kBinary, t.text, std::move(left), power(), t.offset);
    }
    return left;
  }

  ExprPtr power() {
    ExprPtr left = unary(true);
    while (peek().is_op("**")) {
      const size_t at = next().offset;
      left = binary(Expr::Kind::kBinary, "**", std::move(left), unary(true), at);
    }
    return left;
  }

  ExprPtr unary(bool with_filter) {
    ExprPtr node;
    if (peek().is_op("-") || peek().is_op("+")) {
      const Token& t = next();
      node = make(t.text == "-" ? Expr::Kind::kNeg : Expr::Kind::kPos, t.offset);
      node->args.push_back(unary(false));
    } else {
      node = primary();
    }
    node = postfix(std::move(node));
    return with_filter ? filters(std::move(node)) : std::move(node);
  }

  ExprPtr primary() {
    const Token& t = next();
    switch (t.type) {
      case Token::Type::kName: {
        static const std::initializer_list<std::pair<const char*, int>> kConstants = {
            {"true", 1}, {"True", 1}, {"false", 0}, {"False", 0}, {"none", -1}, {"None", -1}};
        for (const auto& [name, v] : kConstants) {
          if (t.text != name) continue;
          ExprPtr e = make(Expr::Kind::kLiteral, t.offset);
          e->value = v < 0 ? Value(nullptr) : Value(v == 1);
          return e;
        }
        static const char* const kReserved[] = {"and", "or", "not", "in", "is", "if", "else"};
        for (const char* word : kReserved) {
          if (t.text == word) fail(t, "expected a value, got '" + t.text + "'");
        }
        ExprPtr e = make(Expr::Kind::kName, t.offset);
        e->name = t.text;
        return e;
      }
      case Token::Type::kString: {
        ExprPtr e = make(Expr::Kind::kLiteral, t.offset);
        std::string text = t.text;
        while (peek().type == Token::Type::kString) text += next().text;  // "a" "b" is "ab"
        e->value = text;
        return e;
      }
      case Token::Type::kInteger: {
        ExprPtr e = make(Expr::Kind::kLiteral, t.offset);
        e->value = t.integer;
        return e;
      }
      case Token::Type::kFloat: {
        ExprPtr e = make(Expr::Kind::kLiteral, t.offset);
        e->value = t.number;
        return e;
      }
      case Token::Type::kOperator:
        if (t.text == "(") {
          if (accept_op(")")) return make(Expr::Kind::kList, t.offset);  // ()
          ExprPtr first = expression();
          if (!peek().is_op(",")) {
            expect_op(")");
            return first;
          }
          ExprPtr tuple = make(Expr::Kind::kList, t.offset);
          tuple->args.push_back(std::move(first));
          while (accept_op(",")) {
            if (peek().is_op(")")) break;
            tuple->args.push_back(expression());
          }
          expect_op(")");
          return tuple;
        }
        if (t.text == "[") {
          ExprPtr list = make(Expr::Kind::kList, t.offset);
          while (!peek().is_op("]")) {
            list->args.push_back(expression());
            if (!accept_op(",")) break;
          }
          expect_op("]");
          return list;
        }
        if (t.text == "{") {
          ExprPtr dict = make(Expr::Kind::kDict, t.offset);
          while (!peek().is_op("}")) {
            dict->args.push_back(expression());
            expect_op(":");
            dict->args.push_back(expression());
            if (!accept_op(",")) break;
          }
          expect_op("}");
          return dict;
        }
        break;
      default: break;
    }
    fail(t, "expected a value, got " + describe(t));
  }

  ExprPtr postfix(ExprPtr node) {
    while (true) {
      if (peek().is_op(".")) {
        const size_t at = next().offset;
        const Token& t = next();
        if (t.type == Token::Type::kName) {
          ExprPtr attr = make(Expr::Kind::kAttr, at);
          attr->name = t.text;
          attr->args.push_back(std::move(node));
          node = std::move(attr);
        } else if (t.type == Token::Type::kInteger) {  // foo.0 is foo[0]
          ExprPtr item = make(Expr::Kind::kItem, at);
          item->args.push_back(std::move(node));
          ExprPtr index = make(Expr::Kind::kLiteral, t.offset);
          index->value = t.integer;
          item->args.push_back(std::move(index));
          node = std::move(item);
        } else {
          fail(t, "expected a name after '.', got " + describe(t));
        }
      } else if (peek().is_op("[")) {
        node = subscript(std::move(node));
      } else if (peek().is_op("(")) {
        node = call(std::move(node));
      } else {
        return node;
      }
    }
  }

  ExprPtr subscript(ExprPtr node) {
    const size_t at = next().offset;  // '['
    ExprPtr bounds[3];
    bool is_slice = false;
    for (int part = 0; part < 3; ++part) {
      if (!peek().is_op(":") && !peek().is_op("]")) bounds[part] = expression();
      if (part < 2 && accept_op(":")) {
        is_slice = true;
        continue;
      }
      break;
    }
    expect_op("]");
    if (!is_slice) {
      if (!bounds[0]) fail(peek(), "empty subscript '[]'");
      ExprPtr item = make(Expr::Kind::kItem, at);
      item->args.push_back(std::move(node));
      item->args.push_back(std::move(bounds[0]));
      return item;
    }
    ExprPtr slice = make(Expr::Kind::kSlice, at);
    slice->args.push_back(std::move(node));
    for (auto& b : bounds) slice->args.push_back(std::move(b));
    return slice;
  }

  // Arguments after '(' up to ')': positional then name=value.
  void arguments(Expr& e) {
    expect_op("(");
    while (!peek().is_op(")")) {
      if (peek().type == Token::Type::kName && peek(1).is_op("=")) {
        std::string key = next().text;
        next();
        e.kwargs.emplace_back(std::move(key), expression());
      } else {
        if (!e.kwargs.empty()) fail(peek(), "positional argument after a keyword argument");
        e.args.push_back(expression());
      }
      if (!accept_op(",")) break;
    }
    expect_op(")");
  }

  ExprPtr call(ExprPtr node) {
    ExprPtr c = make(Expr::Kind::kCall, peek().offset);
    c->args.push_back(std::move(node));
    arguments(*c);
    return c;
  }

  ExprPtr filters(ExprPtr node) {
    while (true) {
      if (peek().is_op("|")) {
        next();
        const Token& name = peek();
        ExprPtr f = make(Expr::Kind::kFilter, name.offset);
        f->name = expect_name();
        f->args.push_back(std::move(node));
        if (peek().is_op("(")) arguments(*f);
        node = std::move(f);
      } else if (peek().is_name("is")) {
        next();
        ExprPtr test = make(Expr::Kind::kTest, peek().offset);
        test->negated = accept_name("not");
        test->name = expect_name();
        test->args.push_back(std::move(node));
        if (peek().is_op("(")) {
          arguments(*test);
        } else if (starts_argument(peek())) {  // "is divisibleby 3"
          test->args.push_back(unary(false));
        }
        node = std::move(test);
      } else if (peek().is_op("(")) {
        node = call(std::move(node));
      } else {
        return node;
      }
    }
  }

  static bool starts_argument(const Token& t) {
    switch (t.type) {
      case Token::Type::kString:
      case Token::Type::kInteger:
      case Token::Type::kFloat: return true;
      case Token::Type::kName:
        return t.text != "and" && t.text != "or" && t.text != "else" && t.text != "if" &&
               t.text != "is" && t.text != "in" && t.text != "not";
      case Token::Type::kOperator: return t.text == "[" || t.text == "{" || t.text == "-";
      default: return false;
    }
  }

  std::string_view src_;
  const std::vector<Token>& tokens_;
  size_t pos_ = 0;
};

// Builds the tree from the segments, one block at a time.
class BlockParser {
 public:
  BlockParser(std::string_view source, std::vector<Segment> segments)
      : src_(source), segments_(std::move(segments)) {}

  std::vector<Node> run() {
    std::vector<Node> body = block({});
    return body;
  }

 private:
  [[noreturn]] void fail(size_t offset, const std::string& problem) const {
    throw SyntaxError(problem + " " + position(src_, offset));
  }

  static std::string keyword(const Segment& s) {
    const Token& t = s.tokens.front();
    return t.type == Token::Type::kName ? t.text : "";
  }

  // Nodes until a statement whose keyword is in `ends` (left unconsumed), or
  // the end of the template when `ends` is empty.
  std::vector<Node> block(std::initializer_list<const char*> ends,
                          const std::string& open_word = "", size_t open_offset = 0) {
    std::vector<Node> body;
    while (pos_ < segments_.size()) {
      const Segment& s = segments_[pos_];
      if (s.type == Segment::Type::kText) {
        Node n;
        n.kind = Node::Kind::kText;
        n.offset = s.offset;
        n.text = s.text;
        body.push_back(std::move(n));
        ++pos_;
        continue;
      }
      if (s.type == Segment::Type::kOutput) {
        ExprParser p(src_, s.tokens);
        if (p.at_end()) fail(s.offset, "empty expression '{{ }}'");
        Node n;
        n.kind = Node::Kind::kOutput;
        n.offset = s.offset;
        n.expr = p.expression();
        p.expect_end();
        body.push_back(std::move(n));
        ++pos_;
        continue;
      }
      const std::string word = keyword(s);
      for (const char* end : ends) {
        if (word == end) return body;
      }
      body.push_back(statement(s, word));
    }
    if (ends.size() > 0) {
      std::string wanted;
      for (const char* end : ends) wanted += std::string(wanted.empty() ? "" : " or ") + end;
      fail(open_offset,
           "'{% " + open_word + " %}' is never closed (expected {% " + wanted + " %})");
    }
    return body;
  }

  Node statement(const Segment& s, const std::string& word) {
    if (word == "if") return if_statement();
    if (word == "for") return for_statement();
    if (word == "set") return set_statement();
    if (word.empty()) fail(s.offset, "expected a statement name after '{%'");
    if (word == "elif" || word == "else" || word == "endif" || word == "endfor") {
      fail(s.offset, "'{% " + word + " %}' without its opening statement");
    }
    fail(s.offset, "statement '" + word +
                       "' is not supported (supported: if, elif, else, endif, for, else, endfor, "
                       "set)");
  }

  // The current segment's parser, after its keyword.
  ExprParser tag_parser() {
    ExprParser p(src_, segments_[pos_].tokens);
    p.next();
    return p;
  }

  Node if_statement() {
    Node n;
    n.kind = Node::Kind::kIf;
    n.offset = segments_[pos_].offset;
    const size_t opened = n.offset;
    while (true) {
      const std::string word = keyword(segments_[pos_]);
      ExprParser p = tag_parser();
      Node::Branch branch;
      if (word != "else") {
        branch.condition = p.expression();
      }
      p.expect_end();
      ++pos_;
      branch.body = block({"elif", "else", "endif"}, "if", opened);
      n.branches.push_back(std::move(branch));
      const std::string end = keyword(segments_[pos_]);
      if (end == "endif") {
        ExprParser q = tag_parser();
        q.expect_end();
        ++pos_;
        return n;
      }
      if (word == "else") fail(segments_[pos_].offset, "'{% " + end + " %}' after '{% else %}'");
    }
  }

  Node for_statement() {
    Node n;
    n.kind = Node::Kind::kFor;
    n.offset = segments_[pos_].offset;
    ExprParser p = tag_parser();
    n.targets.push_back(p.expect_name());
    while (p.accept_op(",")) n.targets.push_back(p.expect_name());
    if (!p.accept_name("in")) p.unexpected("'in'");
    n.expr = p.or_expression();
    if (p.peek().is_name("if") || p.peek().is_name("recursive")) {
      p.fail(p.peek(), "loop '" + p.peek().text + "' is not supported");
    }
    p.expect_end();
    ++pos_;
    n.body = block({"else", "endfor"}, "for", n.offset);
    if (keyword(segments_[pos_]) == "else") {
      tag_parser().expect_end();
      ++pos_;
      n.else_body = block({"endfor"}, "for", n.offset);
    }
    tag_parser().expect_end();
    ++pos_;
    return n;
  }

  Node set_statement() {
    Node n;
    n.kind = Node::Kind::kSet;
    n.offset = segments_[pos_].offset;
    ExprParser p = tag_parser();
    n.targets.push_back(p.expect_name());
    if (p.peek().is_op(".")) p.fail(p.peek(), "set of an attribute (namespace) is not supported");
    if (!p.peek().is_op("=")) {
      p.fail(p.peek(), p.at_end() ? "block '{% set %}...{% endset %}' is not supported"
                                  : "expected '=' after the name in '{% set %}'");
    }
    p.next();
    n.expr = p.expression();
    p.expect_end();
    ++pos_;
    return n;
  }

  std::string_view src_;
  std::vector<Segment> segments_;
  size_t pos_ = 0;
};

}  // namespace

std::vector<Node> parse(std::string_view source) {
  return BlockParser(source, lex(source)).run();
}

}  // namespace compass::jinja
