// The helpers builtins.h declares for all builtins: problems, argument
// binding, integers and dict keys.
#include "builtins.h"

#include <cmath>

namespace compass::jinja {

void fail(std::string message) {
  throw Problem{std::move(message), false};
}

void fail_undefined(std::string message) {
  throw Problem{std::move(message), true};
}

std::vector<std::optional<Value>> bind_args(const std::string& function, const Args& args,
                                            const Kwargs& kwargs,
                                            const std::vector<const char*>& names) {
  if (args.size() > names.size()) {
    fail(function + "() takes at most " + std::to_string(names.size()) + " argument" +
         (names.size() == 1 ? "" : "s") + " (" + std::to_string(args.size()) + " given)");
  }
  std::vector<std::optional<Value>> out(names.size());
  for (size_t i = 0; i < args.size(); ++i) out[i] = args[i];
  for (const auto& [key, value] : kwargs) {
    size_t i = 0;
    while (i < names.size() && key != names[i]) ++i;
    if (i == names.size()) fail(function + "() got an unexpected keyword argument '" + key + "'");
    if (out[i]) fail(function + "() got multiple values for argument '" + key + "'");
    out[i] = value;
  }
  return out;
}

int64_t as_int(const Value& value, const std::string& what) {
  if (value.is_boolean()) return value.get<bool>() ? 1 : 0;
  if (value.is_number_integer()) return value.get<int64_t>();
  fail(what + " must be an integer, got " + type_name(value));
}

std::string dict_key(const Value& key) {
  if (key.is_string()) return key.get<std::string>();
  if (key.is_null()) return "\x01None";
  if (key.is_boolean() || key.is_number_integer()) return "\x01" + std::to_string(as_int(key, ""));
  if (key.is_number_float()) {
    const double d = key.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.2e18) {
      return "\x01" + std::to_string(static_cast<int64_t>(d));
    }
    return "\x01" + float_repr(d);
  }
  fail("unhashable type: '" + type_name(key) + "'");
}

Value key_value(const std::string& key) {
  if (key.empty() || key[0] != '\x01') return key;
  const std::string text = key.substr(1);
  if (text == "None") return nullptr;
  if (text.find_first_of(".einf") == std::string::npos) return std::stoll(text);
  return std::stod(text);
}

}  // namespace compass::jinja
