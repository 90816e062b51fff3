#include "compass/datasets/jsonl_dataset.h"

#include "compass/plugin_support/fewshot.h"
#include "compass/plugin_support/items.h"
#include "compass/plugin_support/options.h"

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
  const auto json = plugin_support::parse_options(options_json);
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
  return read_jsonl_docs(file, [&](const JsonlRecord& record, const std::string& source) {
    Doc doc;
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
    return doc;
  });
}

Config config_from_abi(const compass_dataset_config& abi) {
  Config config;
  config.file = read_abi_config(abi, "jsonl", "jsonl: needs `path`: a jsonl file", config);
  config.options = parse_options(sdk::view(abi.options_json));
  return config;
}

JsonlDataset::JsonlDataset(Config config) : config_(std::move(config)) {
  const Options& options = config_.options;
  if (options.kind == Kind::kRolling && config_.num_shots > 0) {
    invalid("kind rolling scores whole texts and takes no few-shot examples (shots = " +
            std::to_string(config_.num_shots) + ")");
  }
  std::vector<Doc> rows = read_docs(config_.file, options);
  const bool same_file = options.fewshot_path.empty();
  std::filesystem::path pool_file = config_.file;
  if (!same_file) {
    pool_file = std::filesystem::path(options.fewshot_path);
    if (pool_file.is_relative()) pool_file = config_.file.parent_path() / pool_file;
  }
  docs_ =
      FewshotDocs<Doc>(std::move(rows), config_, same_file, pool_file,
                       [&](const std::filesystem::path& file) { return read_docs(file, options); });
}

uint64_t JsonlDataset::size() const {
  return docs_.size();
}

void JsonlDataset::for_each_item(const std::function<bool(const sdk::Item&)>& fn) const {
  const Options& options = config_.options;
  const std::string prefix = config_.file.stem().string() + "/";
  docs_.for_each_item(
      [&](uint64_t index, const Doc& doc, const FewshotDocs<Doc>::Shots& pool_shots) {
        std::vector<Shot> shots;
        for (const Doc* shot : pool_shots) shots.push_back({shot->text, shot->target});
        sdk::Item item;
        switch (options.kind) {
          case Kind::kMultipleChoice:
            item = multiple_choice_item(doc.choices, doc.gold, options.target_delimiter);
            break;
          case Kind::kGenerate:
            item.kind = COMPASS_ITEM_GENERATE;
            item.references = doc.references;
            item.stop = options.stop;
            item.max_new_tokens = 0;
            break;
          case Kind::kRolling: item.kind = COMPASS_ITEM_ROLLING; break;
        }
        item.id = prefix + std::to_string(index);
        item.group = doc.group;
        item.context = options.kind == Kind::kRolling
                           ? doc.text
                           : fewshot_context(shots, doc.text, options.target_delimiter,
                                             options.fewshot_delimiter);
        item.doc_json = doc.json;
        return item;
      },
      fn);
}

}  // namespace compass::datasets::jsonl
