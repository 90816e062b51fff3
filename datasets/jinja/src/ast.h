// The syntax tree of a parsed template.
#ifndef COMPASS_JINJA_AST_H_
#define COMPASS_JINJA_AST_H_

#include "compass/jinja/value.h"

#include <cstddef>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace compass::jinja {

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

struct Expr {
  enum class Kind {
    kLiteral,  // value
    kName,     // name
    kList,     // [args...] (tuples are lists too)
    kDict,     // {args[0]: args[1], args[2]: args[3], ...}
    kAttr,     // args[0].name
    kItem,     // args[0][args[1]]
    kSlice,    // args[0][args[1]:args[2]:args[3]], a missing bound is null
    kCall,     // args[0](args[1..], kwargs)
    kFilter,   // args[0] | name(args[1..], kwargs)
    kTest,     // args[0] is [not] name(args[1..])
    kNeg,      // -args[0]
    kPos,      // +args[0]
    kNot,      // not args[0]
    kBinary,   // args[0] name args[1], name one of + - * / // % ** ~
    kCompare,  // args[0] ops[0] args[1] ops[1] args[2] ... (chained)
    kAnd,      // args[0] and args[1]
    kOr,       // args[0] or args[1]
    kCond,     // args[0] if args[1] else args[2] (null without else)
  };
  Kind kind = Kind::kLiteral;
  size_t offset = 0;  // in the template
  Value value;
  std::string name;
  bool negated = false;  // kTest: "is not"
  std::vector<ExprPtr> args;
  std::vector<std::pair<std::string, ExprPtr>> kwargs;
  std::vector<std::string> ops;  // kCompare: ==, !=, <, >, <=, >=, in, not in
};

struct Node {
  enum class Kind { kText, kOutput, kIf, kFor, kSet };
  struct Branch {
    ExprPtr condition;  // null: the else branch
    std::vector<Node> body;
  };
  Kind kind = Kind::kText;
  size_t offset = 0;
  std::string text;                  // kText
  ExprPtr expr;                      // kOutput; kSet: the value; kFor: what is iterated
  std::vector<std::string> targets;  // kFor, kSet: the names assigned
  std::vector<Branch> branches;      // kIf
  std::vector<Node> body;            // kFor
  std::vector<Node> else_body;       // kFor: rendered when nothing was iterated
};

}  // namespace compass::jinja

#endif  // COMPASS_JINJA_AST_H_
