#include "tokenizer/json_fields.h"

namespace compass::hf {

std::string KeyPath(std::string_view where, std::string_view key) {
  if (where.empty()) return std::string(key);
  return std::string(where) + "." + std::string(key);
}

std::string IndexPath(std::string_view where, size_t index) {
  return std::string(where) + "[" + std::to_string(index) + "]";
}

Status FieldError(std::string_view where, std::string_view message) {
  return InvalidArgument(std::string(where) + ": " + std::string(message));
}

const Json* FindField(const Json& obj, std::string_view key) {
  if (!obj.is_object()) return nullptr;
  const auto it = obj.find(key);
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

Status ExpectObject(const Json& j, std::string_view where) {
  if (!j.is_object())
    return FieldError(where, std::string("expected an object, found ") + j.type_name());
  return Status::Ok();
}

StatusOr<bool> BoolField(const Json& obj, std::string_view key, std::string_view where,
                         bool fallback) {
  const Json* v = FindField(obj, key);
  if (v == nullptr) return fallback;
  if (!v->is_boolean()) {
    return FieldError(KeyPath(where, key),
                      std::string("expected true or false, found ") + v->type_name());
  }
  return v->get<bool>();
}

StatusOr<std::string> StringField(const Json& obj, std::string_view key, std::string_view where,
                                  std::string_view fallback) {
  const Json* v = FindField(obj, key);
  if (v == nullptr) return std::string(fallback);
  if (!v->is_string()) {
    return FieldError(KeyPath(where, key),
                      std::string("expected a string, found ") + v->type_name());
  }
  return v->get<std::string>();
}

StatusOr<std::string> RequiredString(const Json& obj, std::string_view key,
                                     std::string_view where) {
  if (FindField(obj, key) == nullptr) return FieldError(KeyPath(where, key), "missing");
  return StringField(obj, key, where, "");
}

StatusOr<int64_t> RequiredInt(const Json& obj, std::string_view key, std::string_view where) {
  const Json* v = FindField(obj, key);
  if (v == nullptr) return FieldError(KeyPath(where, key), "missing");
  if (!v->is_number_integer()) {
    return FieldError(KeyPath(where, key),
                      std::string("expected an integer, found ") + v->type_name());
  }
  return v->get<int64_t>();
}

StatusOr<std::string> TypeOf(const Json& obj, std::string_view where) {
  COMPASS_RETURN_IF_ERROR(ExpectObject(obj, where));
  return RequiredString(obj, "type", where);
}

StatusOr<PatternSpec> PatternField(const Json& obj, std::string_view key, std::string_view where) {
  const std::string path = KeyPath(where, key);
  const Json* v = FindField(obj, key);
  if (v == nullptr) return FieldError(path, "missing");
  PatternSpec spec;
  if (v->is_object() && v->size() == 1 && v->begin().value().is_string()) {
    if (v->begin().key() == "String") {
      spec.text = v->begin().value().get<std::string>();
      return spec;
    }
    if (v->begin().key() == "Regex") {
      spec.is_regex = true;
      spec.text = v->begin().value().get<std::string>();
      return spec;
    }
  }
  return FieldError(path, "expected {\"String\": \"...\"} or {\"Regex\": \"...\"}");
}

}  // namespace compass::hf
