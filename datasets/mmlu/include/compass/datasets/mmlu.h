// MMLU (Hendrycks et al.) in its original layout: <root>/{dev,val,test}/
// <subject>_<split>.csv, headerless rows `question,A,B,C,D,answer` with the
// answer a letter A-D.
//
// Prompts equal lm-evaluation-harness's `mmlu` task (default template):
//   "The following are multiple choice questions (with answers) about
//    <subject, '_' -> ' '>.\n\n"
//   + for each shot: doc_to_text(shot) + " " + letter + "\n\n"
//   + doc_to_text(doc)
// with doc_to_text = question.strip() + "\nA. " + A + "\nB. " + B + "\nC. "
// + C + "\nD. " + D + "\nAnswer:". Shots are the first num_shots rows of
// dev/<subject>_dev.csv (fewshot_split dev, first_n sampler); when the
// evaluated split is dev itself the item is left out of its own shots, as
// lm-eval does. Choices are " A".." D"; gold is the answer's index.
//
// Items come subject by subject (subjects sorted), rows in file order, with
// id "<subject>/<split>/<row index>" and group <subject>; `limit` counts
// items over all subjects.
#ifndef COMPASS_DATASETS_MMLU_H_
#define COMPASS_DATASETS_MMLU_H_

#include <compass/plugin.hpp>

#include <array>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace compass::plugin_support {}

namespace compass::datasets::mmlu {

using namespace ::compass::plugin_support;  // the helpers all in-tree plugins share

inline constexpr std::string_view kSplits[] = {"test", "val", "dev"};

// One row of a subject file.
struct Question {
  std::string question;  // as in the file (doc_to_text strips it)
  std::array<std::string, 4> choices;
  int answer = 0;     // 0..3 for A..D
  uint64_t line = 0;  // 1-based line where the row starts

  bool operator==(const Question& other) const {
    return question == other.question && choices == other.choices && answer == other.answer;
  }
};

// Reads and validates a subject file. Throws sdk::Error COMPASS_DATA_LOSS
// "<file>:<line>: ..." for a row without 6 fields or with an answer other
// than A-D, and for a file with no rows; COMPASS_NOT_FOUND when missing.
std::vector<Question> read_questions(const std::filesystem::path& file);

std::string description(std::string_view subject);
std::string doc_to_text(const Question& question);
// The full prompt: description, shots, then the question.
std::string build_context(std::string_view subject, const std::vector<const Question*>& shots,
                          const Question& doc);
// {"subject","question","choices":[4],"answer":"B"}.
std::string doc_json(std::string_view subject, const Question& question);

// Plugin options: `subjects` (list of strings) and `split` (test|val|dev).
struct Options {
  std::vector<std::string> subjects;  // empty: every subject found in test/
  std::string split = "test";
};
// Throws sdk::Error COMPASS_INVALID_ARGUMENT for bad JSON, types or values.
Options parse_options(std::string_view options_json);
// The option specs the plugin declares (static storage).
compass_option_list option_specs();

// Subjects with a <subject>_test.csv in <root>/test, sorted. Throws
// COMPASS_NOT_FOUND when the folder is missing or holds none.
std::vector<std::string> find_subjects(const std::filesystem::path& root);

struct Config {
  std::filesystem::path root;  // folder holding dev/ and test/ (and val/)
  uint32_t num_shots = 0;
  uint64_t limit = 0;  // 0 = all items
  Options options;
};
// Converts the ABI config (parsing options_json).
Config config_from_abi(const compass_dataset_config& config);

class Mmlu {
 public:
  // Reads and validates every selected subject file (and dev files when
  // num_shots > 0). Throws sdk::Error: COMPASS_INVALID_ARGUMENT for an
  // unknown subject (with a did-you-mean hint and the available subjects) or
  // too many shots, COMPASS_NOT_FOUND / COMPASS_DATA_LOSS for files.
  explicit Mmlu(Config config);

  const std::vector<std::string>& subjects() const { return subject_names_; }
  // Number of items for_each_item delivers (limit applied).
  uint64_t size() const;

  // Calls `fn` for each item in order until it returns false.
  void for_each_item(const std::function<bool(const sdk::Item&)>& fn) const;

 private:
  struct Subject {
    std::string name;
    std::vector<Question> rows;
    std::vector<Question> dev;  // few-shot pool
  };
  std::vector<const Question*> shots_for(const Subject& subject, const Question& doc) const;

  Config config_;
  std::vector<std::string> subject_names_;
  std::vector<Subject> subjects_;
};

}  // namespace compass::datasets::mmlu

#endif  // COMPASS_DATASETS_MMLU_H_
