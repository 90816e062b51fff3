// Typed access to tokenizer.json fields with errors that name the key, e.g.
// "pre_tokenizer.pretokenizers[0].behavior: expected a string". The loader
// prefixes the file name.
#ifndef COMPASS_TOKENIZER_JSON_FIELDS_H_
#define COMPASS_TOKENIZER_JSON_FIELDS_H_

#include <nlohmann/json.hpp>

#include <string>
#include <string_view>

#include "util/status.h"

namespace compass::hf {

using Json = nlohmann::json;

// "where.key", or "key" at the top level.
std::string KeyPath(std::string_view where, std::string_view key);
// "where[index]".
std::string IndexPath(std::string_view where, size_t index);

Status FieldError(std::string_view where, std::string_view message);

// The member `key` of object `obj`; nullptr when absent or null.
const Json* FindField(const Json& obj, std::string_view key);

Status ExpectObject(const Json& j, std::string_view where);

// Optional fields: `fallback` when absent or null; an error when of another type.
StatusOr<bool> BoolField(const Json& obj, std::string_view key, std::string_view where,
                         bool fallback);
StatusOr<std::string> StringField(const Json& obj, std::string_view key, std::string_view where,
                                  std::string_view fallback);
// Required fields.
StatusOr<std::string> RequiredString(const Json& obj, std::string_view key, std::string_view where);
StatusOr<int64_t> RequiredInt(const Json& obj, std::string_view key, std::string_view where);

// The "type" of a component object.
StatusOr<std::string> TypeOf(const Json& obj, std::string_view where);

// Pattern objects: {"String": "..."} or {"Regex": "..."}.
struct PatternSpec {
  bool is_regex = false;
  std::string text;
};
StatusOr<PatternSpec> PatternField(const Json& obj, std::string_view key, std::string_view where);

}  // namespace compass::hf

#endif  // COMPASS_TOKENIZER_JSON_FIELDS_H_
