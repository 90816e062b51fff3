#include "compass/datasets/jsonl_dataset.h"

#include "compass/plugin_support/fewshot.h"
#include "compass/plugin_support/items.h"

#include <algorithm>

namespace compass::datasets::jsonl {

namespace {

[[noreturn]] void invalid(const std::string& message) {
  throw sdk::Error(COMPASS_INVALID_ARGUMENT, "jsonl: " + message);
}

std::string shown(const jinja::Value& v) {
  return jinja::repr(v);
}

// The gold index from doc_to_target's value, in lm-eval's order: an
// integer is the index; a string is the choice equal to it. Beyond lm-eval
// (where these score 0 with a warning): a string of digits is the index and
// a single letter A-Z counts from A.
int64_t resolve_gold(const jinja::Value& value, const std::vector<std::string>& choices,
                     const DocFunction& answer, const JsonlRecord& record,
                     const std::string& source) {
  const auto in_range = [&](int64_t index) {
    if (index < 0 || static_cast<size_t>(index) >= choices.size()) {
      throw JsonlError(source, record.line,
                       answer.name() + ": gives " + shown(value) + " but there are " +
                           std::to_string(choices.size()) + " choices");
    }
    return index;
  };
  if (value.is_number_integer()) return in_range(value.get<int64_t>());
  if (value.is_array()) {
    throw JsonlError(source, record.line,
                     answer.name() + ": gives several gold answers " + shown(value) +
                         ", which multiple_choice does not support");
  }
  if (!value.is_string()) {
    throw JsonlError(
        source, record.line,
        answer.name() + ": must give an index, a choice's text or a letter, got " + shown(value));
  }
  const std::string text = value.get<std::string>();
  if (const auto it = std::find(choices.begin(), choices.end(), text); it != choices.end()) {
    return it - choices.begin();
  }
  if (is_digits(text) && text.size() < 10) return in_range(std::stoll(text));
  if (text.size() == 1 && text[0] >= 'A' && text[0] <= 'Z') return in_range(text[0] - 'A');
  throw JsonlError(source, record.line,
                   answer.name() + ": gives " + shown(value) +
                       ", which is neither an index, one of the choices nor a letter A-Z");
}

std::vector<std::string> strings_of(const jinja::Value& list) {
  std::vector<std::string> out;
  for (const auto& element : list) out.push_back(jinja::to_str(element));
  return out;
}

}  // namespace

std::vector<Doc> read_docs(const std::filesystem::path& file, const Options& options,
                           std::optional<bool>& partial) {
  return read_jsonl_docs(file, [&](const JsonlRecord& record, const std::string& source) {
    const jinja::Value doc = jinja::Value::parse(record.text);
    Doc d;
    const jinja::Value text = options.prompt.apply(record, doc, source);
    const bool mc = options.kind == Kind::kMultipleChoice;
    // lm-eval's rule: a prompt that gives an integer makes a multiple-choice
    // task a partial evaluation (decided on the first document).
    if (!partial) partial = mc && text.is_number_integer();
    if (mc && text.is_number_integer() != *partial) {
      throw JsonlError(source, record.line,
                       options.prompt.name() + ": gives " + shown(text) + ", but for the first " +
                           "record it gave " +
                           (*partial ? "an integer (partial evaluation)" : "text") +
                           "; every record must agree");
    }
    d.partial = *partial;
    if (!d.partial) d.text = jinja::to_str(text);
    if (options.description.set()) {
      d.description = jinja::to_str(options.description.apply(record, doc, source));
    }
    switch (options.kind) {
      case Kind::kMultipleChoice: {
        const jinja::Value choices = options.choices.apply(record, doc, source);
        if (!choices.is_array() || choices.empty()) {
          throw JsonlError(
              source, record.line,
              options.choices.name() + ": gives " + shown(choices) + ", not a non-empty list");
        }
        d.choices = strings_of(choices);
        const jinja::Value answer = options.answer.apply(record, doc, source);
        if (d.partial) {
          // The prompt is the gold index, `answer` the shared continuation.
          d.gold = resolve_gold(text, d.choices, options.prompt, record, source);
          if (answer.is_array()) {
            throw JsonlError(source, record.line,
                             options.answer.name() + ": gives a list " + shown(answer) +
                                 "; partial evaluation needs one continuation");
          }
          d.continuation = jinja::to_str(answer);
          d.text = d.choices[static_cast<size_t>(d.gold)];
          d.target = d.continuation;
        } else {
          d.gold = resolve_gold(answer, d.choices, options.answer, record, source);
          d.target = d.choices[static_cast<size_t>(d.gold)];
        }
        break;
      }
      case Kind::kGenerate: {
        const jinja::Value target = options.target.apply(record, doc, source);
        if (target.is_array()) {
          if (target.empty()) {
            throw JsonlError(source, record.line, options.target.name() + ": gives an empty list");
          }
          d.references = strings_of(target);
        } else {
          d.references = {jinja::to_str(target)};
        }
        d.target = d.references.front();  // lm-eval's shots show the first target
        break;
      }
      case Kind::kRolling: break;
    }
    if (!options.group.empty()) {
      d.group =
          jinja::to_str(jinja::Value::parse(require_field(record, source, options.group).dump()));
    }
    return d;
  });
}

Config config_from_abi(const compass_dataset_config& abi) {
  Config config;
  config.file = read_abi_config(abi, "jsonl", "jsonl: needs `path`: a jsonl file", config);
  config.options = parse_options(sdk::view(abi.options_json));
  return config;
}

sdk::TaskInfo describe(const compass_dataset_config& abi) {
  const Config config = config_from_abi(abi);
  const Options& o = config.options;
  sdk::TaskInfo info;
  info.item_kinds =
      COMPASS_ITEM_KIND_BIT(o.kind == Kind::kMultipleChoice ? COMPASS_ITEM_MULTIPLE_CHOICE
                            : o.kind == Kind::kGenerate     ? COMPASS_ITEM_GENERATE
                                                            : COMPASS_ITEM_ROLLING);
  info.scorer = o.scorer.empty() ? default_scorer(o.kind) : o.scorer;
  if (!o.scorer_options.is_null()) info.scorer_options_json = o.scorer_options.dump();
  info.num_shots = o.num_shots;
  return info;
}

JsonlDataset::JsonlDataset(Config config) : config_(std::move(config)) {
  const Options& options = config_.options;
  if (options.kind == Kind::kRolling && config_.num_shots > 0) {
    invalid("kind rolling scores whole texts and takes no few-shot examples (shots = " +
            std::to_string(config_.num_shots) + ")");
  }
  std::optional<bool> partial;
  std::vector<Doc> rows = read_docs(config_.file, options, partial);
  const bool same_file = options.fewshot_path.empty();
  std::filesystem::path pool_file = config_.file;
  if (!same_file) {
    pool_file = std::filesystem::path(options.fewshot_path);
    if (pool_file.is_relative()) pool_file = config_.file.parent_path() / pool_file;
  }
  docs_ = FewshotDocs<Doc>(
      std::move(rows), config_, same_file, pool_file,
      [&](const std::filesystem::path& file) { return read_docs(file, options, partial); });
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
        const auto context = [&](const std::string& text) {
          return doc.description +
                 fewshot_context(shots, text, options.target_delimiter, options.fewshot_delimiter);
        };
        sdk::Item item;
        switch (options.kind) {
          case Kind::kMultipleChoice:
            if (doc.partial) {
              // One context per choice, one continuation for all.
              item = multiple_choice_item(
                  std::vector<std::string>(doc.choices.size(), doc.continuation), doc.gold,
                  options.target_delimiter);
              item.context = context("");
              for (const std::string& choice : doc.choices) {
                item.contexts.push_back(item.context + choice);
              }
            } else {
              item = multiple_choice_item(doc.choices, doc.gold, options.target_delimiter);
              item.context = context(doc.text);
            }
            break;
          case Kind::kGenerate:
            item.kind = COMPASS_ITEM_GENERATE;
            item.references = doc.references;
            item.stop = options.stop;
            item.max_new_tokens = options.max_new_tokens;
            item.context = context(doc.text);
            break;
          case Kind::kRolling:
            item.kind = COMPASS_ITEM_ROLLING;
            item.context = doc.text;
            break;
        }
        item.id = prefix + std::to_string(index);
        item.group = doc.group;
        item.doc_json = doc.json;
        return item;
      },
      fn);
}

}  // namespace compass::datasets::jsonl
