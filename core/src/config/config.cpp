#include "config/config.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <map>
#include <sstream>
#include <system_error>
#include <tuple>

#include "config/config_internal.h"
#include "gguf/gguf_file.h"
#include "util/strings.h"

namespace compass {

namespace fs = std::filesystem;

std::string SourcePos::ToString() const {
  if (line <= 0) return file;
  const std::string pos = std::to_string(line) + ":" + std::to_string(column);
  return file.empty() ? pos : file + ":" + pos;
}

namespace config_internal {

std::string PosOf(const std::string& file, const toml::node& node) {
  const auto& begin = node.source().begin;
  if (begin.line == 0) return "";
  return SourcePos{file, static_cast<int>(begin.line), static_cast<int>(begin.column)}.ToString();
}

std::string Where(const std::string& file, const toml::node& node, const std::string& path) {
  const std::string pos = PosOf(file, node);
  return pos.empty() ? "--set " + path : pos + ": " + path;
}

std::string Prefix(const std::string& file, const toml::node& node, const std::string& path) {
  const std::string pos = PosOf(file, node);
  return pos.empty() ? "--set " + path + ": " : pos + ": ";
}

std::string TypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table: return "a table";
    case toml::node_type::array: return "an array";
    case toml::node_type::string: return "a string";
    case toml::node_type::integer: return "an integer";
    case toml::node_type::floating_point: return "a float";
    case toml::node_type::boolean: return "a boolean";
    case toml::node_type::date: return "a date";
    case toml::node_type::time: return "a time";
    case toml::node_type::date_time: return "a date-time";
    default: return "nothing";
  }
}

std::string JoinPath(const std::string& table_path, std::string_view key) {
  return table_path.empty() ? std::string(key) : table_path + "." + std::string(key);
}

std::vector<std::pair<const toml::key*, const toml::node*>> InSourceOrder(
    const toml::table& table) {
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (auto&& [key, node] : table) entries.emplace_back(&key, &node);
  auto rank = [](const toml::node* n) {
    const auto& b = n->source().begin;
    constexpr auto kMax = std::numeric_limits<toml::source_index>::max();
    return b.line == 0 ? std::make_pair(kMax, kMax) : std::make_pair(b.line, b.column);
  };
  std::stable_sort(entries.begin(), entries.end(),
                   [&](const auto& a, const auto& b) { return rank(a.second) < rank(b.second); });
  return entries;
}

std::string UnknownKey(const std::string& file, const toml::key& key, const toml::node& node,
                       const std::string& table_path, const std::vector<std::string>& allowed,
                       std::string_view allowed_suffix) {
  const std::string name(key.str());
  std::string pos = PosOf(file, node);
  // A key = value line is best named at its key, a [table] header at its '['.
  const auto& kb = key.source().begin;
  const auto& nb = node.source().begin;
  if (!pos.empty() && kb.line != 0 && std::tie(kb.line, kb.column) < std::tie(nb.line, nb.column))
    pos = SourcePos{file, static_cast<int>(kb.line), static_cast<int>(kb.column)}.ToString();
  const std::string prefix =
      pos.empty() ? "--set " + JoinPath(table_path, name) + ": " : pos + ": ";
  std::string in;
  if (table_path.empty())
    in = "at top level";
  else if (table_path.find('[') != std::string::npos)
    in = "in " + table_path;
  else
    in = "in [" + table_path + "]";
  // Keys users bring from elsewhere (lm-evaluation-harness, an older
  // Compass, another table) are pointed to where they belong.
  static const std::map<std::string, std::string> kElsewhere = {
      {"batch_size", "[backend] batch_size"},
      {"devices", "[backend] devices"},
      {"max_length", "[model] max_length"},
      {"dtype", "[model] dtype"},
      {"num_fewshot", "[[task]] shots"},
      {"max_gen_toks", "[[task]] max_new_tokens"},
      {"device_map", "[backend.hf_native] device_map"},
      {"temperature", "[[task]] temperature"}};
  const auto elsewhere = kElsewhere.find(name);
  const std::string hint = elsewhere != kElsewhere.end()
                               ? " (it is set as " + elsewhere->second + ")"
                               : DidYouMean(name, allowed);
  return prefix + "unknown key '" + name + "' " + in + hint +
         "; allowed: " + (allowed.empty() ? std::string("(none)") : Join(allowed)) +
         std::string(allowed_suffix);
}

}  // namespace config_internal

namespace {

using config_internal::InSourceOrder;
using config_internal::JoinPath;
using config_internal::PosOf;
using config_internal::TypeName;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kUint32Max = std::numeric_limits<uint32_t>::max();
constexpr int64_t kMaxContextWindow = std::numeric_limits<int32_t>::max();

const std::vector<std::string> kTopKeys = {"model", "backend", "task", "run"};
const std::vector<std::string> kModelKeys = {"path",      "dtype",   "allow_dtype_fallback",
                                             "tokenizer", "add_bos", "max_length"};
const std::vector<std::string> kBackendKeys = {"devices", "batch_size"};
const std::vector<std::string> kRunKeys = {"output", "seed", "limit"};
const std::vector<std::string> kTaskKeys = {
    "dataset",        "path",        "name",  "shots", "scorer",      "limit",         "seed",
    "max_new_tokens", "temperature", "top_p", "top_k", "num_samples", "scorer_options"};

std::string Lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

// Decimal digits with an optional sign, of any length.
bool IsInteger(std::string_view s) {
  if (!s.empty() && (s[0] == '-' || s[0] == '+')) s.remove_prefix(1);
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

// An integer too large (or too small) for 64 bits, which TOML cannot hold.
bool BeyondInt64(std::string_view s) {
  if (!IsInteger(s)) return false;
  if (s[0] == '+') s.remove_prefix(1);
  int64_t v = 0;
  return std::from_chars(s.data(), s.data() + s.size(), v).ec == std::errc::result_out_of_range;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && s.size() <= 6 &&
         std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
}

bool IsDeviceSyntax(std::string_view d) {
  if (d == "cpu") return true;
  if (d.starts_with("cpu:")) return IsDigits(d.substr(4));
  if (d.starts_with("cuda:")) return IsDigits(d.substr(5));
  return false;
}

std::string DeviceHint(std::string_view d) {
  const std::string lower = Lower(d);
  std::string guess;
  if (IsDeviceSyntax(lower)) guess = lower;
  if (lower == "cuda" || lower == "gpu") guess = "cuda:0";
  if (lower.starts_with("gpu:") && IsDigits(lower.substr(4))) guess = "cuda:" + lower.substr(4);
  return guess.empty() ? "" : " (did you mean '" + guess + "'?)";
}

// The canonical dtype for a name or alias, or "".
std::string CanonicalDtype(std::string_view name) {
  static const std::map<std::string, std::string, std::less<>> kDtypes = {
      {"float32", "float32"}, {"fp32", "float32"},      {"f32", "float32"},
      {"float16", "float16"}, {"fp16", "float16"},      {"f16", "float16"},
      {"half", "float16"},    {"bfloat16", "bfloat16"}, {"bf16", "bfloat16"}};
  const auto it = kDtypes.find(Lower(name));
  return it == kDtypes.end() ? "" : it->second;
}

class Validator {
 public:
  Validator(const std::string& file, fs::path base) : file_(file), base_(std::move(base)) {}

  Status Validate(toml::table& doc, EvalConfig& out) {
    COMPASS_RETURN_IF_ERROR(CheckKeys(doc, "", kTopKeys));
    COMPASS_RETURN_IF_ERROR(Model(doc, out.model));
    COMPASS_RETURN_IF_ERROR(Backend(doc, out.backend));
    COMPASS_RETURN_IF_ERROR(RunSection(doc, out.run));
    return Tasks(doc, out.run, out.tasks);
  }

 private:
  Status Error(const toml::node& node, const std::string& path, const std::string& detail,
               Code code = COMPASS_INVALID_ARGUMENT) const {
    return Status(code, config_internal::Where(file_, node, path) + ": " + detail);
  }

  Status Missing(const toml::node& table, const std::string& table_path, std::string_view key,
                 const std::string& hint) const {
    return InvalidArgument(config_internal::Prefix(file_, table, table_path) +
                           "missing required key " + JoinPath(table_path, key) + "; " + hint);
  }

  SourcePos PosFor(const toml::node& node) const {
    const auto& b = node.source().begin;
    return SourcePos{file_, static_cast<int>(b.line), static_cast<int>(b.column)};
  }

  Status CheckKeys(const toml::table& table, const std::string& table_path,
                   const std::vector<std::string>& allowed) const {
    for (const auto& [key, node] : InSourceOrder(table)) {
      if (std::find(allowed.begin(), allowed.end(), key->str()) == allowed.end())
        return InvalidArgument(
            config_internal::UnknownKey(file_, *key, *node, table_path, allowed));
    }
    return Status::Ok();
  }

  StatusOr<const toml::table*> Table(const toml::node& node, const std::string& path) const {
    if (const toml::table* t = node.as_table()) return t;
    return Error(node, path, "expected a table, got " + TypeName(node));
  }

  StatusOr<std::string> String(const toml::node& node, const std::string& path) const {
    if (const auto* s = node.as_string()) return s->get();
    return Error(node, path, "expected a string, got " + TypeName(node));
  }

  StatusOr<bool> Bool(const toml::node& node, const std::string& path) const {
    if (const auto* b = node.as_boolean()) return b->get();
    return Error(node, path, "expected a boolean (true or false), got " + TypeName(node));
  }

  StatusOr<int64_t> Integer(const toml::node& node, const std::string& path, int64_t min,
                            int64_t max) const {
    std::string range;
    if (max == kInt64Max)
      range = "must be >= " + std::to_string(min);
    else
      range = "must be between " + std::to_string(min) + " and " + std::to_string(max);
    const auto* i = node.as_integer();
    if (!i) {
      std::string detail = "expected an integer, got " + TypeName(node);
      if (const auto* s = node.as_string(); s && IsInteger(s->get())) {
        // --set takes a number TOML cannot hold (beyond 64 bits) as a string.
        if (BeyondInt64(s->get())) return Error(node, path, range + ", got " + s->get());
        detail += "; write it without quotes";
      }
      return Error(node, path, detail);
    }
    const int64_t v = i->get();
    if (v >= min && v <= max) return v;
    return Error(node, path, range + ", got " + std::to_string(v));
  }

  static std::string FormatNumber(double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return buf;
  }

  StatusOr<double> Float(const toml::node& node, const std::string& path, double min,
                         double max) const {
    double v = 0;
    if (const auto* f = node.as_floating_point()) {
      v = f->get();
    } else if (const auto* i = node.as_integer()) {
      v = static_cast<double>(i->get());
    } else {
      return Error(node, path, "expected a number, got " + TypeName(node));
    }
    if (v >= min && v <= max) return v;
    return Error(node, path,
                 "must be between " + FormatNumber(min) + " and " + FormatNumber(max) + ", got " +
                     FormatNumber(v));
  }

  // An absolute, normalized path; relative ones are taken from the config's folder.
  std::string Resolve(const std::string& value) const {
    fs::path p(value);
    if (p.is_relative()) p = base_ / p;
    std::string s = p.lexically_normal().string();
    while (s.size() > 1 && s.back() == '/') s.pop_back();
    return s;
  }

  Status Model(toml::table& doc, ModelSettings& model) {
    toml::node* node = doc.get("model");
    if (!node)
      return InvalidArgument(config_internal::Prefix(file_, doc, "model") +
                             "missing required table [model]; add [model] with path = \"<a "
                             "Hugging Face checkpoint folder>\"");
    COMPASS_ASSIGN_OR_RETURN(const toml::table* t, Table(*node, "model"));
    model.where = PosFor(*t);
    COMPASS_RETURN_IF_ERROR(CheckKeys(*t, "model", kModelKeys));

    const toml::node* path = t->get("path");
    if (!path) return Missing(*t, "model", "path", "set it to a Hugging Face checkpoint folder");
    COMPASS_ASSIGN_OR_RETURN(std::string p, String(*path, "model.path"));
    if (p.empty())
      return Error(*path, "model.path", "is empty; set it to a Hugging Face checkpoint folder");
    model.path = Resolve(p);
    std::error_code ec;
    const fs::file_status st = fs::status(model.path, ec);
    if (!fs::exists(st))
      return Error(*path, "model.path",
                   "'" + model.path +
                       "' does not exist; set model.path to a Hugging Face checkpoint folder or "
                       "a .gguf file",
                   COMPASS_NOT_FOUND);
    if (!fs::is_directory(st) && !gguf::IsGgufPath(model.path))
      return Error(*path, "model.path",
                   "'" + model.path +
                       "' is a file but not a .gguf file; set model.path to a Hugging Face "
                       "checkpoint folder or a .gguf file");

    if (const toml::node* dtype = t->get("dtype")) {
      COMPASS_ASSIGN_OR_RETURN(std::string d, String(*dtype, "model.dtype"));
      model.dtype = CanonicalDtype(d);
      if (model.dtype.empty())
        return Error(*dtype, "model.dtype",
                     "'" + d + "' is not a dtype; allowed: float32, float16, bfloat16");
    }
    if (const toml::node* fb = t->get("allow_dtype_fallback")) {
      COMPASS_ASSIGN_OR_RETURN(model.allow_dtype_fallback, Bool(*fb, "model.allow_dtype_fallback"));
    }
    if (const toml::node* bos = t->get("add_bos")) {
      COMPASS_ASSIGN_OR_RETURN(bool add, Bool(*bos, "model.add_bos"));
      model.add_bos = add;
    }
    if (const toml::node* n = t->get("max_length")) {
      // Positions are 32-bit in every model the backends run.
      COMPASS_ASSIGN_OR_RETURN(model.max_length,
                               Integer(*n, "model.max_length", 2, kMaxContextWindow));
    }
    if (const toml::node* tok = t->get("tokenizer")) {
      COMPASS_ASSIGN_OR_RETURN(model.tokenizer, String(*tok, "model.tokenizer"));
      if (model.tokenizer != "auto" && model.tokenizer != "bytes")
        return Error(*tok, "model.tokenizer",
                     "'" + model.tokenizer + "' is not a tokenizer" +
                         DidYouMean(model.tokenizer, {"auto", "bytes"}) + "; allowed: auto, bytes");
    }
    return Status::Ok();
  }

  Status Backend(toml::table& doc, BackendConfig& backend) {
    toml::node* node = doc.get("backend");
    if (!node) return Status::Ok();
    toml::table* t = node->as_table();
    if (!t) return Error(*node, "backend", "expected a table, got " + TypeName(*node));

    for (const auto& [key, value] : InSourceOrder(*t)) {
      const std::string name(key->str());
      if (name == "devices" || name == "batch_size" || value->is_table()) continue;
      return InvalidArgument(config_internal::UnknownKey(
          file_, *key, *value, "backend", kBackendKeys, ", or a [backend.<name>] table"));
    }

    if (const toml::node* devices = t->get("devices")) {
      const toml::array* arr = devices->as_array();
      if (!arr)
        return Error(*devices, "backend.devices",
                     "expected an array of strings such as [\"cuda:0\", \"cuda:1\"], got " +
                         TypeName(*devices));
      if (arr->empty())
        return Error(*devices, "backend.devices",
                     "is empty; list at least one device (cpu, cpu:N or cuda:N)");
      backend.devices.clear();
      for (size_t i = 0; i < arr->size(); ++i) {
        const std::string path = "backend.devices[" + std::to_string(i) + "]";
        const toml::node& item = *arr->get(i);
        COMPASS_ASSIGN_OR_RETURN(std::string d, String(item, path));
        if (!IsDeviceSyntax(d))
          return Error(item, path,
                       "'" + d + "' is not a device" + DeviceHint(d) +
                           "; allowed: cpu, cpu:N, cuda:N (N = 0, 1, ...)");
        const auto dup = std::find(backend.devices.begin(), backend.devices.end(), d);
        if (dup != backend.devices.end())
          return Error(item, path,
                       "'" + d + "' is listed twice (also backend.devices[" +
                           std::to_string(dup - backend.devices.begin()) + "])");
        backend.devices.push_back(d);
      }
    }

    if (const toml::node* bs = t->get("batch_size")) {
      if (const auto* s = bs->as_string()) {
        // A number beyond 64 bits reaches here as a string (--set): a range error.
        if (BeyondInt64(s->get())) {
          return Error(*bs, "backend.batch_size",
                       "must be between 1 and " + std::to_string(kUint32Max) +
                           " (or \"auto\"), got " + s->get());
        }
        if (Lower(s->get()) != "auto") {
          const bool digits =
              !s->get().empty() && s->get().find_first_not_of("0123456789") == std::string::npos;
          return Error(*bs, "backend.batch_size",
                       "'" + s->get() + "' is not a batch size; allowed: a positive integer or " +
                           "\"auto\"" +
                           (digits ? "; the value was read as a string: write it without quotes "
                                     "(with --set in a shell: backend.batch_size=" +
                                         s->get() + ")"
                                   : ""));
        }
        backend.batch_size = 0;
      } else if (!bs->is_integer()) {
        return Error(*bs, "backend.batch_size",
                     "expected a positive integer or \"auto\", got " + TypeName(*bs));
      } else {
        COMPASS_ASSIGN_OR_RETURN(int64_t v, Integer(*bs, "backend.batch_size", 1, kUint32Max));
        backend.batch_size = static_cast<uint32_t>(v);
      }
    }

    // Moved, not copied: toml++ drops source positions on copy.
    for (auto&& [key, value] : *t) {
      if (key.str() == "devices" || key.str() == "batch_size") continue;
      backend.plugin_tables.emplace(std::string(key.str()), std::move(*value.as_table()));
    }
    return Status::Ok();
  }

  Status RunSection(toml::table& doc, RunConfig& run) {
    toml::node* node = doc.get("run");
    if (!node) return Status::Ok();
    COMPASS_ASSIGN_OR_RETURN(const toml::table* t, Table(*node, "run"));
    COMPASS_RETURN_IF_ERROR(CheckKeys(*t, "run", kRunKeys));
    if (const toml::node* out = t->get("output")) {
      COMPASS_ASSIGN_OR_RETURN(std::string o, String(*out, "run.output"));
      run.output = o.empty() ? "" : Resolve(o);
    }
    if (const toml::node* seed = t->get("seed")) {
      COMPASS_ASSIGN_OR_RETURN(int64_t v, Integer(*seed, "run.seed", 0, kInt64Max));
      run.seed = static_cast<uint64_t>(v);
    }
    if (const toml::node* limit = t->get("limit")) {
      COMPASS_ASSIGN_OR_RETURN(int64_t v, Integer(*limit, "run.limit", 0, kInt64Max));
      run.limit = static_cast<uint64_t>(v);
    }
    return Status::Ok();
  }

  Status Tasks(toml::table& doc, const RunConfig& run, std::vector<TaskConfig>& tasks) {
    const std::string hint =
        "add at least one [[task]] with dataset = \"<plugin name>\" and path = \"<data file or "
        "folder>\"";
    toml::node* node = doc.get("task");
    if (!node) return Status::Ok();  // planning needs none; RequireTasks for a run
    toml::array* arr = node->as_array();
    if (!arr) {
      std::string detail = "expected an array of tables ([[task]]), got " + TypeName(*node);
      if (node->is_table()) detail += "; write [[task]], not [task]";
      return Error(*node, "task", detail);
    }
    if (arr->empty()) return Error(*node, "task", "is empty; " + hint);

    std::map<std::string, size_t> names;  // name -> index in `tasks`
    for (size_t i = 0; i < arr->size(); ++i) {
      const std::string tp = "task[" + std::to_string(i) + "]";
      toml::node& item = *arr->get(i);
      toml::table* t = item.as_table();
      if (!t) return Error(item, tp, "expected a table, got " + TypeName(item));
      TaskConfig task;
      task.where = PosFor(*t);
      task.seed = run.seed;

      const toml::node* dataset = t->get("dataset");
      if (!dataset)
        return Missing(*t, tp, "dataset", "set it to a dataset plugin name such as \"mmlu\"");
      COMPASS_ASSIGN_OR_RETURN(task.dataset, String(*dataset, tp + ".dataset"));
      if (task.dataset.empty())
        return Error(*dataset, tp + ".dataset", "is empty; set it to a dataset plugin name");

      const toml::node* path = t->get("path");
      if (!path) return Missing(*t, tp, "path", "set it to the dataset's file or folder");
      COMPASS_ASSIGN_OR_RETURN(std::string p, String(*path, tp + ".path"));
      if (p.empty())
        return Error(*path, tp + ".path", "is empty; set it to the dataset's file or folder");
      task.path = Resolve(p);
      std::error_code ec;
      if (!fs::exists(fs::status(task.path, ec)))
        return Error(*path, tp + ".path",
                     "'" + task.path + "' does not exist; set " + tp +
                         ".path to the dataset's file or folder",
                     COMPASS_NOT_FOUND);

      const toml::node* name = t->get("name");
      if (name) {
        COMPASS_ASSIGN_OR_RETURN(task.name, String(*name, tp + ".name"));
        if (task.name.empty()) return Error(*name, tp + ".name", "is empty");
      } else {
        task.name = task.dataset;
      }
      if (const toml::node* n = t->get("shots")) {
        COMPASS_ASSIGN_OR_RETURN(int64_t v, Integer(*n, tp + ".shots", 0, kUint32Max));
        task.shots = static_cast<uint32_t>(v);
        task.shots_set = true;
      }
      if (const toml::node* n = t->get("scorer")) {
        COMPASS_ASSIGN_OR_RETURN(task.scorer, String(*n, tp + ".scorer"));
        task.scorer_where = PosFor(*n);
      }
      if (const toml::node* n = t->get("limit")) {
        COMPASS_ASSIGN_OR_RETURN(int64_t v, Integer(*n, tp + ".limit", 0, kInt64Max));
        task.limit = static_cast<uint64_t>(v);
      }
      if (const toml::node* n = t->get("seed")) {
        COMPASS_ASSIGN_OR_RETURN(int64_t v, Integer(*n, tp + ".seed", 0, kInt64Max));
        task.seed = static_cast<uint64_t>(v);
      }
      if (const toml::node* n = t->get("max_new_tokens")) {
        COMPASS_ASSIGN_OR_RETURN(int64_t v, Integer(*n, tp + ".max_new_tokens", 1, kUint32Max));
        task.max_new_tokens = static_cast<uint32_t>(v);
      }
      if (const toml::node* n = t->get("temperature")) {
        COMPASS_ASSIGN_OR_RETURN(double v, Float(*n, tp + ".temperature", 0, 100));
        task.generation.temperature = static_cast<float>(v);
      }
      if (const toml::node* n = t->get("top_p")) {
        COMPASS_ASSIGN_OR_RETURN(double v, Float(*n, tp + ".top_p", 1e-6, 1));
        task.generation.top_p = static_cast<float>(v);
      }
      if (const toml::node* n = t->get("top_k")) {
        COMPASS_ASSIGN_OR_RETURN(int64_t v, Integer(*n, tp + ".top_k", 0, kUint32Max / 2));
        task.generation.top_k = static_cast<int32_t>(v);
      }
      if (const toml::node* n = t->get("num_samples")) {
        COMPASS_ASSIGN_OR_RETURN(int64_t v, Integer(*n, tp + ".num_samples", 1, 10000));
        task.generation.num_samples = static_cast<uint32_t>(v);
        if (v > 1 && !t->get("temperature"))
          return Error(*n, tp + ".num_samples",
                       "asks for " + std::to_string(v) +
                           " samples but greedy decoding gives the same one each time; set " + tp +
                           ".temperature > 0 too");
      }
      if (toml::node* n = t->get("scorer_options")) {
        toml::table* so = n->as_table();
        if (!so) return Error(*n, tp + ".scorer_options", "expected a table, got " + TypeName(*n));
        task.scorer_options = std::move(*so);
      }

      if (const auto it = names.find(task.name); it != names.end()) {
        const TaskConfig& first = tasks[it->second];
        const std::string first_pos =
            first.where.line > 0 ? " at " + first.where.ToString() : " (set with --set)";
        return Error(name ? *name : static_cast<const toml::node&>(*t), tp + ".name",
                     "duplicate task name '" + task.name + "' (task[" + std::to_string(it->second) +
                         "]" + first_pos +
                         " has it too); give each [[task]] a distinct name = \"...\"");
      }
      names.emplace(task.name, tasks.size());

      // Every other key is a dataset option, checked later against the plugin's specs.
      for (auto&& [key, value] : *t) {
        if (std::find(kTaskKeys.begin(), kTaskKeys.end(), key.str()) != kTaskKeys.end()) continue;
        task.dataset_options.insert(key, std::move(value));
      }
      tasks.push_back(std::move(task));
    }
    return Status::Ok();
  }

  const std::string& file_;
  fs::path base_;
};

StatusOr<toml::table> ParseToml(std::string_view text, const std::string& file) {
#if TOML_EXCEPTIONS
  try {
    return toml::parse(text, std::string_view(file));
  } catch (const toml::parse_error& e) {
    const auto& b = e.source().begin;
    return InvalidArgument(
        SourcePos{file, static_cast<int>(b.line), static_cast<int>(b.column)}.ToString() +
        ": TOML syntax error: " + std::string(e.description()));
  }
#else
  toml::parse_result result = toml::parse(text, std::string_view(file));
  if (!result) {
    const auto& b = result.error().source().begin;
    return InvalidArgument(
        SourcePos{file, static_cast<int>(b.line), static_cast<int>(b.column)}.ToString() +
        ": TOML syntax error: " + std::string(result.error().description()));
  }
  return std::move(result).table();
#endif
}

// The document with the overrides applied.
StatusOr<toml::table> BuildDocument(std::string_view text, const std::string& file,
                                    const std::vector<std::string>& overrides) {
  COMPASS_ASSIGN_OR_RETURN(toml::table doc, ParseToml(text, file));
  for (const auto& o : overrides) COMPASS_RETURN_IF_ERROR(ApplyOverride(doc, o));
  return doc;
}

}  // namespace

StatusOr<EvalConfig> ParseConfig(std::string_view text, const std::string& file,
                                 const std::string& base_dir,
                                 const std::vector<std::string>& overrides) {
  try {
    std::error_code ec;
    fs::path base = base_dir.empty() ? fs::current_path(ec) : fs::absolute(base_dir, ec);
    EvalConfig config;
    config.file = file;
    config.display_file = file;
    config.base_dir = base.lexically_normal().string();
    COMPASS_ASSIGN_OR_RETURN(toml::table doc, BuildDocument(text, file, overrides));
    COMPASS_RETURN_IF_ERROR(Validator(file, base.lexically_normal()).Validate(doc, config));
    // Validation moved pieces out of `doc`; a second parse keeps `root` whole and
    // with its source positions (toml++ drops them when copying).
    COMPASS_ASSIGN_OR_RETURN(config.root, BuildDocument(text, file, overrides));
    return config;
  } catch (const std::exception& e) {
    return Internal(file + ": unexpected error while reading the config: " + e.what());
  } catch (...) {
    return Internal(file + ": unexpected error while reading the config");
  }
}

Status RequireTasks(const EvalConfig& config) {
  if (!config.tasks.empty()) return Status::Ok();
  return InvalidArgument(config.display_file +
                         ": no [[task]] table; add at least one [[task]] with dataset = \"<plugin "
                         "name>\" and path = \"<data file or folder>\"");
}

StatusOr<EvalConfig> LoadConfig(const std::string& path,
                                const std::vector<std::string>& overrides) {
  try {
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (!fs::exists(st)) return NotFound("config file '" + path + "' does not exist");
    if (fs::is_directory(st))
      return InvalidArgument("config file '" + path +
                             "' is a folder; give the path of an eval.toml");
    std::ifstream in(path, std::ios::binary);
    if (!in) return IoError("cannot open config file '" + path + "'");
    std::ostringstream text;
    text << in.rdbuf();
    if (in.bad()) return IoError("cannot read config file '" + path + "'");
    const fs::path absolute = fs::absolute(path, ec).lexically_normal();
    COMPASS_ASSIGN_OR_RETURN(
        EvalConfig config,
        ParseConfig(text.str(), path, absolute.parent_path().string(), overrides));
    config.file = absolute.string();
    return config;
  } catch (const std::exception& e) {
    return Internal(path + ": unexpected error while reading the config: " + e.what());
  } catch (...) {
    return Internal(path + ": unexpected error while reading the config");
  }
}

}  // namespace compass
