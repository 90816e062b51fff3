#include "util/status.h"

#include <gtest/gtest.h>

namespace compass {
namespace {

StatusOr<int> Half(int x) {
  if (x % 2) return InvalidArgument(std::to_string(x) + " is odd");
  return x / 2;
}

Status Quarter(int x, int* out) {
  COMPASS_ASSIGN_OR_RETURN(int h, Half(x));
  COMPASS_ASSIGN_OR_RETURN(*out, Half(h));
  return Status::Ok();
}

TEST(Status, MacrosPropagateTheFirstError) {
  int out = 0;
  EXPECT_TRUE(Quarter(8, &out).ok());
  EXPECT_EQ(out, 2);
  Status s = Quarter(6, &out);
  EXPECT_EQ(s.code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_EQ(s.message(), "3 is odd");
}

TEST(Status, ContextAndToString) {
  Status s = NotFound("x.csv").WithContext("dataset 'mmlu'");
  EXPECT_EQ(s.message(), "dataset 'mmlu': x.csv");
  EXPECT_EQ(s.ToString(), "not found: dataset 'mmlu': x.csv");
  EXPECT_EQ(Status::Ok().WithContext("ignored").message(), "");
}

}  // namespace
}  // namespace compass
