// Items and model outputs for the scorer tests. Each case owns the storage
// its compass_item and compass_model_output point into, so it is neither
// copied nor moved.
#ifndef COMPASS_TESTS_SCORER_TEST_UTIL_H_
#define COMPASS_TESTS_SCORER_TEST_UTIL_H_

#include "dataset_test_util.h"  // error_of, error_message

#include <compass/plugin.hpp>

#include <string>
#include <utility>
#include <vector>

namespace compass::testing {

class ScoringCase {
 public:
  ScoringCase(const ScoringCase&) = delete;
  ScoringCase& operator=(const ScoringCase&) = delete;

  compass_item item{};
  compass_model_output output{};

 protected:
  ScoringCase(std::string id, compass_item_kind kind) : id_(std::move(id)) {
    item.struct_size = sizeof(item);
    item.id = sdk::str(id_);
    item.kind = kind;
    item.gold = -1;
    output.struct_size = sizeof(output);
  }

 private:
  std::string id_;
};

// A generate item with its references, and the generated text.
class GenerateCase : public ScoringCase {
 public:
  GenerateCase(std::vector<std::string> references, std::string text, std::string id = "q/0")
      : ScoringCase(std::move(id), COMPASS_ITEM_GENERATE),
        references_(std::move(references)),
        text_(std::move(text)) {
    for (const auto& r : references_) views_.push_back(sdk::str(r));
    item.references = views_.data();
    item.num_references = views_.size();
    output.text = sdk::str(text_);
  }

 private:
  std::vector<std::string> references_;
  std::string text_;
  std::vector<compass_str> views_;
};

// A multiple-choice item, and the model's log-likelihood of each choice.
class ChoiceCase : public ScoringCase {
 public:
  ChoiceCase(std::vector<std::string> choices, const std::vector<double>& logprobs, int64_t gold,
             std::string id = "t/0")
      : ScoringCase(std::move(id), COMPASS_ITEM_MULTIPLE_CHOICE), choices_(std::move(choices)) {
    for (const auto& c : choices_) views_.push_back(sdk::str(c));
    for (const double lp : logprobs)
      outputs_.push_back(compass_choice_output{sizeof(compass_choice_output), lp, 0, 1});
    item.choices = views_.data();
    item.num_choices = views_.size();
    item.gold = gold;
    output.choices = outputs_.data();
    output.num_choices = outputs_.size();
  }

 private:
  std::vector<std::string> choices_;
  std::vector<compass_str> views_;
  std::vector<compass_choice_output> outputs_;
};

// A rolling item, and the model's log-likelihood of its text.
class RollingCase : public ScoringCase {
 public:
  RollingCase(std::string text, double logprob, std::string id = "doc/0")
      : ScoringCase(std::move(id), COMPASS_ITEM_ROLLING), text_(std::move(text)) {
    item.context = sdk::str(text_);
    output.logprob = logprob;
  }

 private:
  std::string text_;
};

}  // namespace compass::testing

#endif  // COMPASS_TESTS_SCORER_TEST_UTIL_H_
