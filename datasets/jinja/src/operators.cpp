#include "builtins.h"
#include "python_str.h"

#include <cmath>
#include <limits>

namespace compass::jinja {

namespace {

bool is_int(const Value& v) {
  return v.is_number_integer() || v.is_boolean();
}
bool is_num(const Value& v) {
  return v.is_number() || v.is_boolean();
}
double as_double(const Value& v) {
  return v.is_boolean() ? (v.get<bool>() ? 1.0 : 0.0) : v.get<double>();
}

[[noreturn]] void unsupported(const std::string& op, const Value& a, const Value& b) {
  fail("unsupported operand type(s) for " + op + ": '" + type_name(a) + "' and '" + type_name(b) +
       "'");
}

// The result of __builtin_*_overflow(x, y, &r): r, or a Problem.
int64_t checked(bool overflow, const int64_t& result) {
  if (overflow) fail("integer overflow (values are limited to 64 bits)");
  return result;
}

Value repeat(const Value& sequence, int64_t times) {
  if (sequence.is_string()) {
    std::string out;
    for (int64_t i = 0; i < times; ++i) out += sequence.get<std::string>();
    return out;
  }
  Value out = Value::array();
  for (int64_t i = 0; i < times; ++i) {
    for (const auto& e : sequence) out.push_back(e);
  }
  return out;
}

Value arithmetic(const std::string& op, const Value& a, const Value& b) {
  if (is_int(a) && is_int(b)) {
    const int64_t x = as_int(a, ""), y = as_int(b, "");
    int64_t r = 0;
    if (op == "+") {
      const bool overflow = __builtin_add_overflow(x, y, &r);
      return checked(overflow, r);
    }
    if (op == "-") {
      const bool overflow = __builtin_sub_overflow(x, y, &r);
      return checked(overflow, r);
    }
    if (op == "*") {
      const bool overflow = __builtin_mul_overflow(x, y, &r);
      return checked(overflow, r);
    }
    if (op == "/") {
      if (y == 0) fail("division by zero");
      return static_cast<double>(x) / static_cast<double>(y);
    }
    if (op == "//" || op == "%") {
      if (y == 0) fail("integer division or modulo by zero");
      int64_t q = x / y, m = x % y;
      if (m != 0 && ((m < 0) != (y < 0))) {
        --q;
        m += y;
      }
      return op == "//" ? q : m;
    }
    if (op == "**") {
      if (y < 0) return std::pow(static_cast<double>(x), static_cast<double>(y));
      int64_t result = 1;
      for (int64_t i = 0; i < y; ++i) {
        const bool overflow = __builtin_mul_overflow(result, x, &r);
        result = checked(overflow, r);
      }
      return result;
    }
  }
  const double x = as_double(a), y = as_double(b);
  if (op == "+") return x + y;
  if (op == "-") return x - y;
  if (op == "*") return x * y;
  if (op == "/") {
    if (y == 0) fail("float division by zero");
    return x / y;
  }
  if (op == "//" || op == "%") {
    if (y == 0) fail("float floor division or modulo by zero");
    const double q = std::floor(x / y);
    return op == "//" ? q : x - q * y;
  }
  return std::pow(x, y);
}

// Python's ordering for <, <=, >, >=: numbers, strings (by code point,
// which is UTF-8 byte order) and lists element by element.
int order(const Value& a, const Value& b, const std::string& op) {
  if (is_num(a) && is_num(b)) {
    if (is_int(a) && is_int(b)) {
      const int64_t x = as_int(a, ""), y = as_int(b, "");
      return x < y ? -1 : x > y ? 1 : 0;
    }
    const double x = as_double(a), y = as_double(b);
    return x < y ? -1 : x > y ? 1 : 0;
  }
  if (a.is_string() && b.is_string()) {
    const int c = a.get_ref<const std::string&>().compare(b.get_ref<const std::string&>());
    return c < 0 ? -1 : c > 0 ? 1 : 0;
  }
  if (a.is_array() && b.is_array()) {
    for (size_t i = 0; i < a.size() && i < b.size(); ++i) {
      if (!equal(a[i], b[i])) return order(a[i], b[i], op);
    }
    return a.size() < b.size() ? -1 : a.size() > b.size() ? 1 : 0;
  }
  fail("'" + op + "' not supported between instances of '" + type_name(a) + "' and '" +
       type_name(b) + "'");
}

bool contains(const Value& container, const Value& item) {
  if (container.is_string()) {
    if (!item.is_string()) {
      fail("'in <string>' requires string as left operand, not " + type_name(item));
    }
    return container.get_ref<const std::string&>().find(item.get_ref<const std::string&>()) !=
           std::string::npos;
  }
  if (container.is_array()) {
    for (const auto& e : container) {
      if (equal(e, item)) return true;
    }
    return false;
  }
  if (container.is_object()) return container.contains(dict_key(item));
  fail("argument of type '" + type_name(container) + "' is not iterable");
}

// Python's index normalisation for obj[i]; nullopt when out of range.
std::optional<size_t> index_in(int64_t i, size_t size) {
  const int64_t n = static_cast<int64_t>(size);
  if (i < 0) i += n;
  if (i < 0 || i >= n) return std::nullopt;
  return static_cast<size_t>(i);
}

}  // namespace

Value binary_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "~") return to_str(a) + to_str(b);
  if (is_num(a) && is_num(b)) return arithmetic(op, a, b);
  if (op == "+") {
    if (a.is_string() && b.is_string()) return a.get<std::string>() + b.get<std::string>();
    if (a.is_array() && b.is_array()) {
      Value out = a;
      for (const auto& e : b) out.push_back(e);
      return out;
    }
  }
  if (op == "*") {
    if ((a.is_string() || a.is_array()) && is_int(b)) return repeat(a, as_int(b, ""));
    if (is_int(a) && (b.is_string() || b.is_array())) return repeat(b, as_int(a, ""));
  }
  if (op == "%" && a.is_string()) fail("string formatting with '%' is not supported");
  unsupported(op, a, b);
}

bool compare_op(const std::string& op, const Value& a, const Value& b) {
  if (op == "==") return equal(a, b);
  if (op == "!=") return !equal(a, b);
  if (op == "in") return contains(b, a);
  if (op == "not in") return !contains(b, a);
  const int c = order(a, b, op);
  if (op == "<") return c < 0;
  if (op == ">") return c > 0;
  if (op == "<=") return c <= 0;
  return c >= 0;
}

Value unary_op(bool minus, const Value& v) {
  if (is_int(v)) {
    const int64_t x = as_int(v, "");
    if (!minus) return x;
    if (x == std::numeric_limits<int64_t>::min()) fail("integer overflow");
    return -x;
  }
  if (v.is_number_float()) return minus ? -v.get<double>() : v.get<double>();
  fail(std::string("bad operand type for unary ") + (minus ? "-" : "+") + ": '" + type_name(v) +
       "'");
}

Value get_item(const Value& object, const Value& key) {
  if (object.is_object()) {
    const auto it = object.find(dict_key(key));
    if (it == object.end()) fail_undefined("dict object has no element " + repr(key));
    return *it;
  }
  if (object.is_array() || object.is_string()) {
    if (!is_int(key)) {
      fail(std::string(object.is_array() ? "list" : "string") + " indices must be integers, not " +
           type_name(key));
    }
    if (object.is_array()) {
      const auto i = index_in(as_int(key, ""), object.size());
      if (!i) fail_undefined("list object has no element " + to_str(key));
      return object[*i];
    }
    const std::u32string s = py::decode(object.get_ref<const std::string&>());
    const auto i = index_in(as_int(key, ""), s.size());
    if (!i) fail_undefined("str object has no element " + to_str(key));
    return py::encode(std::u32string(1, s[*i]));
  }
  fail_undefined(type_name(object) + " object has no element " + repr(key));
}

Value get_attr(const Value& object, const std::string& name) {
  if (object.is_object()) {
    const auto it = object.find(name);
    if (it != object.end()) return *it;
  }
  if (has_method(object, name)) {
    fail("'" + name + "' is a method of " + type_name(object) + ": call it, as in ." + name + "()");
  }
  fail_undefined("'" + type_name(object) + " object' has no attribute '" + name + "'");
}

Value get_slice(const Value& object, std::optional<int64_t> start, std::optional<int64_t> stop,
                std::optional<int64_t> step) {
  const int64_t s = step.value_or(1);
  if (s == 0) fail("slice step cannot be zero");
  std::u32string chars;
  const bool is_str = object.is_string();
  if (is_str) {
    chars = py::decode(object.get_ref<const std::string&>());
  } else if (!object.is_array()) {
    fail("'" + type_name(object) + "' object is not subscriptable");
  }
  const int64_t n = static_cast<int64_t>(is_str ? chars.size() : object.size());
  // CPython's PySlice_AdjustIndices.
  const auto adjust = [&](std::optional<int64_t> v, int64_t if_missing) {
    if (!v) return if_missing;
    int64_t i = *v;
    if (i < 0) {
      i += n;
      if (i < 0) i = s < 0 ? -1 : 0;
    } else if (i >= n) {
      i = s < 0 ? n - 1 : n;
    }
    return i;
  };
  const int64_t b = adjust(start, s < 0 ? n - 1 : 0), e = adjust(stop, s < 0 ? -1 : n);
  std::u32string out_chars;
  Value out = Value::array();
  for (int64_t i = b; s > 0 ? i < e : i > e; i += s) {
    if (is_str) {
      out_chars += chars[static_cast<size_t>(i)];
    } else {
      out.push_back(object[static_cast<size_t>(i)]);
    }
  }
  return is_str ? Value(py::encode(out_chars)) : out;
}

std::vector<Value> iterate(const Value& value) {
  std::vector<Value> out;
  if (value.is_array()) {
    out.assign(value.begin(), value.end());
  } else if (value.is_object()) {
    for (const auto& [key, element] : value.items()) out.push_back(key_value(key));
  } else if (value.is_string()) {
    for (const char32_t c : py::decode(value.get_ref<const std::string&>())) {
      out.emplace_back(py::encode(std::u32string(1, c)));
    }
  } else {
    fail("'" + type_name(value) + "' object is not iterable");
  }
  return out;
}

}  // namespace compass::jinja
