// Helpers for the dataset library tests: collecting items, catching errors
// and scratch folders.
#ifndef COMPASS_TESTS_DATASET_TEST_UTIL_H_
#define COMPASS_TESTS_DATASET_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <unistd.h>
#include <compass/plugin.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace compass::testing {

// Every item `data.for_each_item` delivers, in order.
template <typename Data>
std::vector<sdk::Item> all_items(const Data& data) {
  std::vector<sdk::Item> items;
  data.for_each_item([&](const sdk::Item& item) {
    items.push_back(item);
    return true;
  });
  return items;
}

// Runs `fn`, expecting an sdk::Error; returns it.
template <typename Fn>
sdk::Error error_of(Fn&& fn) {
  try {
    fn();
  } catch (const sdk::Error& e) {
    return e;
  }
  ADD_FAILURE() << "no error thrown";
  return sdk::Error(COMPASS_OK, "");
}

// The message of the sdk::Error `fn` throws.
template <typename Fn>
std::string error_message(Fn&& fn) {
  return error_of(std::forward<Fn>(fn)).what();
}

// A scratch folder, removed with everything in it when destroyed.
class TempDir {
 public:
  // `tag` names the test in the folder's name.
  explicit TempDir(const std::string& tag) {
    static int counter = 0;
    root_ = std::filesystem::temp_directory_path() /
            ("compass_" + tag + "_test_" + std::to_string(::getpid()) + "_" +
             std::to_string(counter++));
    std::filesystem::create_directories(root_);
  }
  TempDir(TempDir&& other) noexcept : root_(std::exchange(other.root_, {})) {}
  TempDir& operator=(TempDir&&) = delete;
  ~TempDir() {
    if (!root_.empty()) std::filesystem::remove_all(root_);
  }

  const std::filesystem::path& root() const { return root_; }
  // Writes `text` to root()/name (creating its folders); returns the path.
  std::filesystem::path write(const std::string& name, const std::string& text) const {
    const std::filesystem::path file = root_ / name;
    std::filesystem::create_directories(file.parent_path());
    std::ofstream(file, std::ios::binary) << text;
    return file;
  }

 private:
  std::filesystem::path root_;
};

}  // namespace compass::testing

#endif  // COMPASS_TESTS_DATASET_TEST_UTIL_H_
