#include "evaluator.h"

#include "builtins.h"
#include "compass/jinja/error.h"
#include "lexer.h"

#include <algorithm>
#include <map>
#include <set>

namespace compass::jinja {

namespace {

class Evaluator {
 public:
  Evaluator(const Value& doc, std::string_view source) : doc_(doc), src_(source) {}

  void render(const std::vector<Node>& nodes, std::string& out) {
    for (const Node& n : nodes) {
      switch (n.kind) {
        case Node::Kind::kText: out += n.text; break;
        case Node::Kind::kOutput: out += to_str(eval(*n.expr)); break;
        case Node::Kind::kSet: scopes_.back()[n.targets[0]] = eval(*n.expr); break;
        case Node::Kind::kIf:
          for (const Node::Branch& b : n.branches) {
            if (!b.condition || truthy(eval(*b.condition))) {
              render(b.body, out);
              break;
            }
          }
          break;
        case Node::Kind::kFor: render_for(n, out); break;
      }
    }
  }

  Value eval(const Expr& e) {
    try {
      return eval_inner(e);
    } catch (const Problem& p) {
      const std::string message = p.message + " " + position(src_, e.offset);
      if (p.undefined) throw UndefinedError(message);
      throw Error(message);
    }
  }

 private:
  void render_for(const Node& n, std::string& out) {
    const std::vector<Value> items = [&] {
      const Value seq = eval(*n.expr);
      try {
        return iterate(seq);
      } catch (const Problem& p) {
        throw Error(p.message + " " + position(src_, n.expr->offset));
      }
    }();
    if (items.empty()) {
      render(n.else_body, out);
      return;
    }
    const int64_t length = static_cast<int64_t>(items.size());
    for (int64_t i = 0; i < length; ++i) {
      std::map<std::string, Value> scope;
      const Value& item = items[static_cast<size_t>(i)];
      if (n.targets.size() == 1) {
        scope[n.targets[0]] = item;
      } else {
        if (!item.is_array() || item.size() != n.targets.size()) {
          throw Error("cannot unpack " + repr(item) + " into " + std::to_string(n.targets.size()) +
                      " names " + position(src_, n.offset));
        }
        for (size_t t = 0; t < n.targets.size(); ++t) scope[n.targets[t]] = item[t];
      }
      scope["loop"] = Value{{"index", i + 1},         {"index0", i},
                            {"revindex", length - i}, {"revindex0", length - i - 1},
                            {"first", i == 0},        {"last", i == length - 1},
                            {"length", length}};
      scopes_.push_back(std::move(scope));
      render(n.body, out);
      scopes_.pop_back();
    }
  }

  const Value& lookup(const std::string& name) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      const auto found = it->find(name);
      if (found != it->end()) return found->second;
    }
    if (doc_.is_object()) {
      const auto found = doc_.find(name);
      if (found != doc_.end()) return *found;
    }
    fail_undefined("'" + name + "' is undefined");
  }

  Args eval_args(const Expr& e, size_t from) {
    Args args;
    for (size_t i = from; i < e.args.size(); ++i) args.push_back(eval(*e.args[i]));
    return args;
  }

  Kwargs eval_kwargs(const Expr& e) {
    Kwargs kwargs;
    for (const auto& [key, value] : e.kwargs) kwargs.emplace_back(key, eval(*value));
    return kwargs;
  }

  std::optional<int64_t> bound(const ExprPtr& e) {
    if (!e) return std::nullopt;
    const Value v = eval(*e);
    if (v.is_null()) return std::nullopt;
    return as_int(v, "slice indices");
  }

  Value call(const Expr& e) {
    const Expr& callee = *e.args[0];
    if (callee.kind == Expr::Kind::kAttr) {
      const Value object = eval(*callee.args[0]);
      if (has_method(object, callee.name) ||
          ((object.is_string() || object.is_array() || object.is_object()) &&
           !(object.is_object() && object.contains(callee.name)))) {
        return call_method(object, callee.name, eval_args(e, 1), eval_kwargs(e));
      }
      const Value target = eval(callee);  // a key of a dict, or undefined
      fail("'" + type_name(target) + "' object is not callable");
    }
    if (callee.kind == Expr::Kind::kName && callee.name == "range" && !bound_name("range")) {
      const Args args = eval_args(e, 1);
      if (!e.kwargs.empty()) fail("range() takes no keyword arguments");
      if (args.empty() || args.size() > 3) fail("range expected 1 to 3 arguments");
      int64_t start = 0, stop = 0, step = 1;
      if (args.size() == 1) {
        stop = as_int(args[0], "range()'s argument");
      } else {
        start = as_int(args[0], "range()'s start");
        stop = as_int(args[1], "range()'s stop");
        if (args.size() == 3) step = as_int(args[2], "range()'s step");
      }
      if (step == 0) fail("range() arg 3 must not be zero");
      Value out = Value::array();
      for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        out.push_back(i);
        if (out.size() > 100000) fail("range() is limited to 100000 numbers");
      }
      return out;
    }
    const Value target = eval(callee);
    fail("'" + type_name(target) + "' object is not callable");
  }

  bool bound_name(const std::string& name) const {
    for (const auto& scope : scopes_) {
      if (scope.count(name)) return true;
    }
    return doc_.is_object() && doc_.contains(name);
  }

  Value eval_inner(const Expr& e) {
    switch (e.kind) {
      case Expr::Kind::kLiteral: return e.value;
      case Expr::Kind::kName: return lookup(e.name);
      case Expr::Kind::kList: return Value(eval_args(e, 0));
      case Expr::Kind::kDict: {
        Value out = Value::object();
        for (size_t i = 0; i + 1 < e.args.size(); i += 2) {
          out[dict_key(eval(*e.args[i]))] = eval(*e.args[i + 1]);
        }
        return out;
      }
      case Expr::Kind::kAttr: return get_attr(eval(*e.args[0]), e.name);
      case Expr::Kind::kItem: return get_item(eval(*e.args[0]), eval(*e.args[1]));
      case Expr::Kind::kSlice: {
        const Value object = eval(*e.args[0]);
        return get_slice(object, bound(e.args[1]), bound(e.args[2]), bound(e.args[3]));
      }
      case Expr::Kind::kCall: return call(e);
      case Expr::Kind::kFilter: {
        if (e.name == "default" || e.name == "d") return default_filter(e);
        const Value operand = eval(*e.args[0]);
        return apply_filter(e.name, operand, eval_args(e, 1), eval_kwargs(e));
      }
      case Expr::Kind::kTest: {
        if (e.name == "defined" || e.name == "undefined") {
          if (e.args.size() > 1) fail("test '" + e.name + "' takes no argument");
          bool defined = true;
          try {
            eval(*e.args[0]);
          } catch (const UndefinedError&) {
            defined = false;
          }
          return (defined == (e.name == "defined")) != e.negated;
        }
        const Value operand = eval(*e.args[0]);
        return apply_test(e.name, operand, eval_args(e, 1)) != e.negated;
      }
      case Expr::Kind::kNeg:
      case Expr::Kind::kPos: return unary_op(e.kind == Expr::Kind::kNeg, eval(*e.args[0]));
      case Expr::Kind::kNot: return !truthy(eval(*e.args[0]));
      case Expr::Kind::kBinary: {
        const Value a = eval(*e.args[0]);
        return binary_op(e.name, a, eval(*e.args[1]));
      }
      case Expr::Kind::kCompare: {
        Value left = eval(*e.args[0]);
        for (size_t i = 0; i < e.ops.size(); ++i) {
          Value right = eval(*e.args[i + 1]);
          if (!compare_op(e.ops[i], left, right)) return false;
          left = std::move(right);
        }
        return true;
      }
      case Expr::Kind::kAnd: {
        Value a = eval(*e.args[0]);
        return truthy(a) ? eval(*e.args[1]) : a;
      }
      case Expr::Kind::kOr: {
        Value a = eval(*e.args[0]);
        return truthy(a) ? a : eval(*e.args[1]);
      }
      case Expr::Kind::kCond: {
        if (truthy(eval(*e.args[1]))) return eval(*e.args[0]);
        if (!e.args[2]) fail_undefined("the condition is false and the expression has no else");
        return eval(*e.args[2]);
      }
    }
    fail("unknown expression");
  }

  // default(value, default_value='', boolean=False): the fallback for an
  // undefined value, or with boolean=true for a false one.
  Value default_filter(const Expr& e) {
    const auto p = bind_args(e.name, eval_args(e, 1), eval_kwargs(e), {"default_value", "boolean"});
    const Value fallback = p[0] ? *p[0] : Value("");
    const bool boolean = p[1] && truthy(*p[1]);
    try {
      Value v = eval(*e.args[0]);
      return boolean && !truthy(v) ? fallback : v;
    } catch (const UndefinedError&) {
      return fallback;
    }
  }

  const Value& doc_;
  std::string_view src_;
  std::vector<std::map<std::string, Value>> scopes_{1};
};

// Collects the names an expression or a block reads, minus bound ones.
class NameCollector {
 public:
  void nodes(const std::vector<Node>& list) {
    for (const Node& n : list) node(n);
  }
  std::vector<std::string> result() const {
    std::vector<std::string> out;
    for (const std::string& name : used_) {
      if (!bound_.count(name) && name != "loop" && name != "range") out.push_back(name);
    }
    return out;
  }

 private:
  void node(const Node& n) {
    if (n.expr) expr(*n.expr);
    for (const std::string& t : n.targets) bound_.insert(t);
    for (const Node::Branch& b : n.branches) {
      if (b.condition) expr(*b.condition);
      nodes(b.body);
    }
    nodes(n.body);
    nodes(n.else_body);
  }
  void expr(const Expr& e) {
    if (e.kind == Expr::Kind::kName &&
        std::find(used_.begin(), used_.end(), e.name) == used_.end()) {
      used_.push_back(e.name);
    }
    for (const ExprPtr& a : e.args) {
      if (a) expr(*a);
    }
    for (const auto& [key, value] : e.kwargs) expr(*value);
  }

  std::vector<std::string> used_;
  std::set<std::string> bound_;
};

}  // namespace

std::string render(const std::vector<Node>& nodes, const Value& doc, std::string_view source) {
  std::string out;
  Evaluator(doc, source).render(nodes, out);
  return out;
}

Value evaluate(const Expr& expr, const Value& doc, std::string_view source) {
  return Evaluator(doc, source).eval(expr);
}

std::vector<std::string> free_names(const std::vector<Node>& nodes) {
  NameCollector c;
  c.nodes(nodes);
  return c.result();
}

}  // namespace compass::jinja
