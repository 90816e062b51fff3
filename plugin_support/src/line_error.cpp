#include "compass/plugin_support/line_error.h"

#include <string>

namespace compass::plugin_support {

namespace {

std::string line_message(std::string_view source, uint64_t line, std::string_view problem) {
  std::string out(source);
  out += ':';
  out += std::to_string(line);
  out += ": ";
  out += problem;
  return out;
}

}  // namespace

LineError::LineError(std::string_view source, uint64_t line, std::string_view problem)
    : sdk::Error(COMPASS_DATA_LOSS, line_message(source, line, problem)), line_(line) {}

}  // namespace compass::plugin_support
