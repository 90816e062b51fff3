// An error at a line of a data file (CSV, JSON Lines).
#ifndef COMPASS_DATASETS_LINE_ERROR_H_
#define COMPASS_DATASETS_LINE_ERROR_H_

#include <compass/plugin.hpp>

#include <cstdint>
#include <string_view>

namespace compass::plugin_support {

// code() is COMPASS_DATA_LOSS; what() reads "<source>:<line>: <problem>".
class LineError : public sdk::Error {
 public:
  LineError(std::string_view source, uint64_t line, std::string_view problem);
  uint64_t line() const { return line_; }

 private:
  uint64_t line_;
};

}  // namespace compass::plugin_support

#endif  // COMPASS_DATASETS_LINE_ERROR_H_
