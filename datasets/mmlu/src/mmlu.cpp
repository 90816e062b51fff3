#include "compass/datasets/mmlu.h"

#include "compass/plugin_support/csv.h"
#include "compass/plugin_support/options.h"
#include "compass/plugin_support/text.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <set>
#include <system_error>

namespace compass::datasets::mmlu {

namespace {

constexpr char kLetters[] = {'A', 'B', 'C', 'D'};

constexpr compass_option_spec kOptionSpecs[] = {
    sdk::option("subjects", COMPASS_OPT_STRING_LIST,
                "subjects to evaluate, e.g. [\"anatomy\"]; default: every subject in test/"),
    sdk::option("split", COMPASS_OPT_STRING, "split to evaluate (default test)", "test|val|dev"),
};

bool valid_split(std::string_view split) {
  return std::find(std::begin(kSplits), std::end(kSplits), split) != std::end(kSplits);
}

std::filesystem::path subject_file(const std::filesystem::path& root, std::string_view subject,
                                   std::string_view split) {
  return root / std::string(split) / (std::string(subject) + "_" + std::string(split) + ".csv");
}

}  // namespace

std::vector<Question> read_questions(const std::filesystem::path& file) {
  const std::string source = file.string();
  const auto records = read_csv_file(file);
  if (records.empty()) {
    throw sdk::Error(COMPASS_DATA_LOSS, source + ": no rows (empty file)");
  }
  std::vector<Question> questions;
  questions.reserve(records.size());
  for (const auto& record : records) {
    const auto& f = record.fields;
    if (f.size() != 6) {
      throw CsvError(
          source, record.line,
          "expected 6 fields (question,A,B,C,D,answer), found " + std::to_string(f.size()));
    }
    const std::string& answer = f[5];
    const char* letter =
        answer.size() == 1 ? std::find(kLetters, kLetters + 4, answer[0]) : nullptr;
    if (letter == nullptr || letter == kLetters + 4) {
      throw CsvError(source, record.line,
                     "answer must be one of A, B, C, D, found '" + answer + "'");
    }
    Question q;
    q.question = f[0];
    for (int i = 0; i < 4; ++i) q.choices[i] = f[i + 1];
    q.answer = static_cast<int>(letter - kLetters);
    q.line = record.line;
    questions.push_back(std::move(q));
  }
  return questions;
}

std::string description(std::string_view subject) {
  std::string name(subject);
  std::replace(name.begin(), name.end(), '_', ' ');
  return "The following are multiple choice questions (with answers) about " + name + ".\n\n";
}

std::string doc_to_text(const Question& q) {
  std::string out(python_strip(q.question));
  for (int i = 0; i < 4; ++i) {
    out += '\n';
    out += kLetters[i];
    out += ". ";
    out += q.choices[i];
  }
  out += "\nAnswer:";
  return out;
}

std::string build_context(std::string_view subject, const std::vector<const Question*>& shots,
                          const Question& doc) {
  std::string out = description(subject);
  for (const Question* shot : shots) {
    out += doc_to_text(*shot);
    out += ' ';
    out += kLetters[shot->answer];
    out += "\n\n";
  }
  out += doc_to_text(doc);
  return out;
}

std::string doc_json(std::string_view subject, const Question& q) {
  nlohmann::ordered_json doc;
  doc["subject"] = subject;
  doc["question"] = q.question;
  doc["choices"] = q.choices;
  doc["answer"] = std::string(1, kLetters[q.answer]);
  return doc.dump();
}

Options parse_options(std::string_view options_json) {
  const auto json = plugin_support::parse_options(options_json);
  Options options;
  if (auto subjects = get_string_list(json, "subjects")) {
    if (subjects->empty()) {
      throw sdk::Error(
          COMPASS_INVALID_ARGUMENT,
          "option 'subjects' is an empty list; leave it out to evaluate every subject");
    }
    options.subjects = std::move(*subjects);
  }
  if (auto split = get_string(json, "split")) options.split = std::move(*split);
  if (!valid_split(options.split)) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                     "option 'split' must be test, val or dev, got '" + options.split + "'");
  }
  return options;
}

compass_option_list option_specs() {
  return compass_option_list{kOptionSpecs, std::size(kOptionSpecs)};
}

std::vector<std::string> find_subjects(const std::filesystem::path& root) {
  const auto folder = root / "test";
  std::error_code ec;
  if (!std::filesystem::is_directory(folder, ec)) {
    throw sdk::Error(COMPASS_NOT_FOUND, "MMLU folder '" + folder.string() +
                                            "' not found: the task path must be the MMLU folder "
                                            "holding dev/ and test/");
  }
  std::vector<std::string> subjects;
  constexpr std::string_view kSuffix = "_test.csv";
  for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.size() > kSuffix.size() && name.ends_with(kSuffix)) {
      subjects.push_back(name.substr(0, name.size() - kSuffix.size()));
    }
  }
  if (ec) throw sdk::Error(COMPASS_IO, "cannot list '" + folder.string() + "': " + ec.message());
  if (subjects.empty()) {
    throw sdk::Error(COMPASS_NOT_FOUND, "no <subject>_test.csv files in '" + folder.string() + "'");
  }
  std::sort(subjects.begin(), subjects.end());
  return subjects;
}

Config config_from_abi(const compass_dataset_config& abi) {
  Config config;
  if (!COMPASS_HAS_FIELD(compass_dataset_config, abi.struct_size, options_json)) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT, "mmlu: dataset config from an unknown ABI");
  }
  if (abi.path.size == 0) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                     "mmlu needs `path`: the MMLU folder holding dev/ and test/");
  }
  config.root = std::filesystem::path(std::string(sdk::view(abi.path)));
  config.num_shots = abi.num_shots;
  config.limit = abi.limit;
  config.options = parse_options(sdk::view(abi.options_json));
  return config;
}

Mmlu::Mmlu(Config config) : config_(std::move(config)) {
  const std::string& split = config_.options.split;
  if (!valid_split(split)) {
    throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                     "option 'split' must be test, val or dev, got '" + split + "'");
  }
  const auto available = find_subjects(config_.root);
  if (config_.options.subjects.empty()) {
    subject_names_ = available;
  } else {
    std::set<std::string> seen;
    for (const auto& subject : config_.options.subjects) {
      if (!std::binary_search(available.begin(), available.end(), subject)) {
        const std::string hint = closest_match(subject, available);
        throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                         "unknown MMLU subject '" + subject + "'" +
                             (hint.empty() ? "" : " (did you mean '" + hint + "'?)") +
                             "; available subjects: " + join(available, ", "));
      }
      if (!seen.insert(subject).second) {
        throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                         "subject '" + subject + "' is listed twice in 'subjects'");
      }
    }
    subject_names_.assign(seen.begin(), seen.end());  // sorted
  }

  const bool eval_dev = split == "dev";
  for (const auto& name : subject_names_) {
    Subject subject;
    subject.name = name;
    subject.rows = read_questions(subject_file(config_.root, name, split));
    if (config_.num_shots > 0) {
      const auto dev_file = subject_file(config_.root, name, "dev");
      subject.dev = eval_dev ? subject.rows : read_questions(dev_file);
      // Evaluating dev, each item is left out of its own shots.
      const size_t usable = subject.dev.size() - (eval_dev ? 1 : 0);
      if (config_.num_shots > usable) {
        throw sdk::Error(COMPASS_INVALID_ARGUMENT,
                         "num_shots = " + std::to_string(config_.num_shots) + " but '" +
                             dev_file.string() + "' has " + std::to_string(subject.dev.size()) +
                             " rows" + (eval_dev ? " (one is the item itself)" : "") +
                             "; use num_shots <= " + std::to_string(usable));
      }
    }
    subjects_.push_back(std::move(subject));
  }
}

// `limit` applies per subject, as lm-evaluation-harness applies it to each
// subtask of a group: a limited multi-subject run still covers every subject.
uint64_t Mmlu::size() const {
  uint64_t total = 0;
  for (const auto& subject : subjects_) {
    total += config_.limit > 0 ? std::min<uint64_t>(subject.rows.size(), config_.limit)
                               : subject.rows.size();
  }
  return total;
}

std::vector<const Question*> Mmlu::shots_for(const Subject& subject, const Question& doc) const {
  std::vector<const Question*> shots;
  const bool eval_dev = config_.options.split == "dev";
  // lm-eval's first_n sampler: take num_shots (+1 when sampling from the
  // evaluated split), drop docs equal to the item, keep num_shots.
  const size_t pool = std::min<size_t>(subject.dev.size(), config_.num_shots + (eval_dev ? 1 : 0));
  for (size_t i = 0; i < pool && shots.size() < config_.num_shots; ++i) {
    if (eval_dev && subject.dev[i] == doc) continue;
    shots.push_back(&subject.dev[i]);
  }
  return shots;
}

void Mmlu::for_each_item(const std::function<bool(const sdk::Item&)>& fn) const {
  const std::string& split = config_.options.split;
  for (const auto& subject : subjects_) {
    for (size_t index = 0; index < subject.rows.size(); ++index) {
      if (config_.limit > 0 && index >= config_.limit) break;
      const Question& q = subject.rows[index];
      sdk::Item item;
      item.id = subject.name + "/" + split + "/" + std::to_string(index);
      item.group = subject.name;
      item.kind = COMPASS_ITEM_MULTIPLE_CHOICE;
      item.context = build_context(subject.name, shots_for(subject, q), q);
      item.choices = {" A", " B", " C", " D"};
      item.gold = q.answer;
      item.doc_json = doc_json(subject.name, q);
      if (!fn(item)) return;
    }
  }
}

}  // namespace compass::datasets::mmlu
