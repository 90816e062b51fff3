#include "compass/datasets/jsonl_dataset.h"

#include "compass/datasets/fewshot.h"
#include "compass/datasets/options.h"

#include <algorithm>

namespace compass::datasets::jsonl {

namespace {

constexpr compass_option_spec kOptionSpecs[] = {
    sdk::option("kind", COMPASS_OPT_STRING, "what each line is (required)",
                "multiple_choice|generate|rolling"),
    sdk::option("prompt", COMPASS_OPT_STRING,
                "template of the prompt, e.g. \"Q: {question}\\nA:\" (required)"),
    sdk::option("choices", COMPASS_OPT_ANY,
                "multiple_choice: field holding the list of choices, or a list of templates"),
    sdk::option("answer", COMPASS_OPT_STRING,
                "multiple_choice: field holding the gold index, choice text or letter"),
    sdk::option("target", COMPASS_OPT_STRING, "generate: template of the reference answer"),
    sdk::option("stop", COMPASS_OPT_STRING_LIST,
                "generate: stop strings (default [fewshot_delimiter])"),
    sdk::option("target_delimiter", COMPASS_OPT_STRING,
                "between a prompt and its answer (default \" \")"),
    sdk::option("fewshot_delimiter", COMPASS_OPT_STRING,
                "after each few-shot example (default \"\\n\\n\")"),
    sdk::option("fewshot_path", COMPASS_OPT_STRING,
                "jsonl file of few-shot examples (default: the data file, the item excluded)"),
    sdk::option("group", COMPASS_OPT_STRING, "field whose value groups the items in the report"),
};

[[noreturn]] void invalid(const std::string& message) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "jsonl: " + message);
}

const char* kind_name(Kind kind) {
  switch (kind) {
    case Kind::kMultipleChoice: return "multiple_choice";
    case Kind::kGenerate: return "generate";
    default: return "rolling";
  }
}

bool all_digits(std::string_view s) {
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

int64_t resolve_answer(const JsonlRecord& record, const std::string& source,
                       const std::string& field, const std::vector<std::string>& choices) {
  const nlohmann::json& value = require_field(record, source, field);
  const auto in_range = [&](int64_t index, const std::string& shown) {
    if (index < 0 || static_cast<size_t>(index) >= choices.size()) {
      throw JsonlError(source, record.line,
                       "field '" + field + "' is " + shown + " but there are " +
                           std::to_string(choices.size()) + " choices");
    }
    return index;
  };
  if (value.is_number_integer()) return in_range(value.get<int64_t>(), value.dump());
  if (!value.is_string()) {
    throw JsonlError(source, record.line,
                     "field '" + field + "' must be an index, a choice's text or a letter, got " +
                         json_type_name(value));
  }
  const std::string text = value.get<std::string>();
  if (all_digits(text)) return in_range(std::stoll(text), "'" + text + "'");
  if (const auto it = std::find(choices.begin(), choices.end(), text); it != choices.end()) {
    return it - choices.begin();
  }
  if (text.size() == 1 && text[0] >= 'A' && text[0] <= 'Z') {
    return in_range(text[0] - 'A', "'" + text + "'");
  }
  throw JsonlError(source, record.line,
                   "field '" + field + "' is '" + text +
                       "', which is neither an index, one of the choices nor a letter A-Z");
}

}  // namespace

Options parse_options(std::string_view options_json) {
  const auto json = datasets::parse_options(options_json);
  Options options;
  const auto kind = get_string(json, "kind");
  if (!kind) invalid("option 'kind' is required: multiple_choice, generate or rolling");
  if (*kind == "multiple_choice") {
    options.kind = Kind::kMultipleChoice;
  } else if (*kind == "generate") {
    options.kind = Kind::kGenerate;
  } else if (*kind == "rolling") {
    options.kind = Kind::kRolling;
  } else {
    invalid("option 'kind' must be multiple_choice, generate or rolling, got '" + *kind + "'");
  }
  const auto prompt = get_string(json, "prompt");
  if (!prompt || prompt->empty()) invalid("option 'prompt' is required (a template)");
  options.prompt = Template(*prompt, "prompt");

  const bool mc = options.kind == Kind::kMultipleChoice;
  const bool gen = options.kind == Kind::kGenerate;
  const auto only_for = [&](const char* key, bool applies, const char* kinds) {
    if (!applies && json.contains(key) && !json.at(key).is_null()) {
      invalid(std::string("option '") + key + "' applies to kind " + kinds + ", not " +
              kind_name(options.kind));
    }
  };
  only_for("choices", mc, "multiple_choice");
  only_for("answer", mc, "multiple_choice");
  only_for("target", gen, "generate");
  only_for("stop", gen, "generate");

  if (mc) {
    const auto it = json.find("choices");
    if (it == json.end() || it->is_null()) {
      invalid(
          "option 'choices' is required for multiple_choice: a field name or a list of "
          "templates");
    }
    if (it->is_string()) {
      options.choices_field = it->get<std::string>();
    } else if (it->is_array() && !it->empty() &&
               std::all_of(it->begin(), it->end(), [](const auto& e) { return e.is_string(); })) {
      for (size_t i = 0; i < it->size(); ++i) {
        options.choice_templates.emplace_back((*it)[i].get<std::string>(),
                                              "choices[" + std::to_string(i) + "]");
      }
    } else {
      invalid("option 'choices' must be a field name or a non-empty list of templates, got " +
              it->dump());
    }
    const auto answer = get_string(json, "answer");
    if (!answer || answer->empty()) {
      invalid(
          "option 'answer' is required for multiple_choice: the field holding the gold "
          "answer");
    }
    options.answer = *answer;
  }
  if (gen) {
    const auto target = get_string(json, "target");
    if (!target) invalid("option 'target' is required for generate (a template)");
    options.target = Template(*target, "target");
  }
  if (auto d = get_string(json, "target_delimiter")) options.target_delimiter = *d;
  if (auto d = get_string(json, "fewshot_delimiter")) options.fewshot_delimiter = *d;
  if (gen) {
    if (auto stop = get_string_list(json, "stop")) {
      options.stop = std::move(*stop);
    } else {
      options.stop = {options.fewshot_delimiter};
    }
    if (std::find(options.stop.begin(), options.stop.end(), "") != options.stop.end()) {
      invalid("option 'stop' holds an empty string");
    }
  }
  if (auto p = get_string(json, "fewshot_path")) options.fewshot_path = *p;
  if (auto g = get_string(json, "group")) options.group = *g;
  return options;
}

compass_option_list option_specs() {
  return compass_option_list{kOptionSpecs, std::size(kOptionSpecs)};
}

std::vector<Doc> read_docs(const std::filesystem::path& file, const Options& options) {
  const std::string source = file.string();
  std::vector<Doc> docs;
  for (auto& record : read_jsonl_file(file)) {
    Doc doc;
    doc.line = record.line;
    doc.text = options.prompt.render(record, source);
    switch (options.kind) {
      case Kind::kMultipleChoice: {
        if (options.choices_field) {
          const nlohmann::json& list = require_field(record, source, *options.choices_field);
          if (!list.is_array() || list.empty()) {
            throw JsonlError(source, record.line,
                             "field '" + *options.choices_field +
                                 "' (option 'choices') must be a non-empty list, got " +
                                 json_type_name(list));
          }
          for (const auto& element : list) doc.choices.push_back(value_text(element));
        } else {
          for (const auto& t : options.choice_templates) {
            doc.choices.push_back(t.render(record, source));
          }
        }
        doc.gold = resolve_answer(record, source, options.answer, doc.choices);
        doc.target = doc.choices[static_cast<size_t>(doc.gold)];
        break;
      }
      case Kind::kGenerate:
        doc.target = options.target->render(record, source);
        doc.references = {doc.target};
        break;
      case Kind::kRolling: break;
    }
    if (!options.group.empty()) {
      doc.group = value_text(require_field(record, source, options.group));
    }
    doc.json = std::move(record.text);
    doc.value = std::move(record.value);
    docs.push_back(std::move(doc));
  }
  return docs;
}

Config config_from_abi(const compass_dataset_config& abi) {
  if (!COMPASS_HAS_FIELD(compass_dataset_config, abi.struct_size, options_json)) {
    invalid("dataset config from an unknown ABI");
  }
  if (abi.path.size == 0) invalid("needs `path`: a jsonl file");
  Config config;
  config.file = std::filesystem::path(std::string(sdk::view(abi.path)));
  config.num_shots = abi.num_shots;
  config.seed = abi.seed;
  config.limit = abi.limit;
  config.options = parse_options(sdk::view(abi.options_json));
  return config;
}

JsonlDataset::JsonlDataset(Config config) : config_(std::move(config)) {
  const Options& options = config_.options;
  if (options.kind == Kind::kRolling && config_.num_shots > 0) {
    invalid("kind rolling scores whole texts and takes no few-shot examples (shots = " +
            std::to_string(config_.num_shots) + ")");
  }
  rows_ = read_docs(config_.file, options);
  same_file_ = options.fewshot_path.empty();
  pool_file_ = config_.file;
  if (!same_file_) {
    pool_file_ = std::filesystem::path(options.fewshot_path);
    if (pool_file_.is_relative()) pool_file_ = config_.file.parent_path() / pool_file_;
  }
  if (config_.num_shots > 0) {
    if (!same_file_) pool_ = read_docs(pool_file_, options);
    const size_t pool_size = same_file_ ? rows_.size() : pool_.size();
    check_fewshot_pool(pool_size, config_.num_shots, same_file_, pool_file_.string());
  }
}

uint64_t JsonlDataset::size() const {
  const uint64_t total = rows_.size();
  return config_.limit > 0 ? std::min(total, config_.limit) : total;
}

void JsonlDataset::for_each_item(const std::function<bool(const sdk::Item&)>& fn) const {
  const Options& options = config_.options;
  const std::vector<Doc>& pool = same_file_ ? rows_ : pool_;
  FewshotSampler sampler(config_.seed, pool.size(), config_.num_shots, same_file_);
  const std::string prefix = config_.file.stem().string() + "/";
  const uint64_t count = size();
  for (uint64_t index = 0; index < count; ++index) {
    const Doc& doc = rows_[index];
    std::vector<Shot> shots;
    for (const size_t i : sampler.next([&](size_t i) { return pool[i].value == doc.value; })) {
      shots.push_back({pool[i].text, pool[i].target});
    }
    sdk::Item item;
    item.id = prefix + std::to_string(index);
    item.group = doc.group;
    item.context =
        options.kind == Kind::kRolling
            ? doc.text
            : fewshot_context(shots, doc.text, options.target_delimiter, options.fewshot_delimiter);
    switch (options.kind) {
      case Kind::kMultipleChoice:
        item.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
        for (const auto& choice : doc.choices) {
          item.choices.push_back(options.target_delimiter + choice);
        }
        item.gold = doc.gold;
        break;
      case Kind::kGenerate:
        item.kind = COMPASS_ITEM_GENERATE;
        item.references = doc.references;
        item.stop = options.stop;
        item.max_new_tokens = 0;
        break;
      case Kind::kRolling: item.kind = COMPASS_ITEM_ROLLING; break;
    }
    item.doc_json = doc.json;
    if (!fn(item)) return;
  }
}

}  // namespace compass::datasets::jsonl
