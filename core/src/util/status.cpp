#include "util/status.h"

namespace compass {

const char* CodeName(Code code) {
  switch (code) {
    case COMPASS_OK: return "ok";
    case COMPASS_INVALID_ARGUMENT: return "invalid argument";
    case COMPASS_NOT_FOUND: return "not found";
    case COMPASS_OUT_OF_MEMORY: return "out of memory";
    case COMPASS_UNSUPPORTED: return "unsupported";
    case COMPASS_CANCELLED: return "cancelled";
    case COMPASS_INTERNAL: return "internal error";
    case COMPASS_IO: return "i/o error";
    case COMPASS_DATA_LOSS: return "data loss";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "ok";
  return std::string(CodeName(code_)) + ": " + message_;
}

Status Status::WithContext(const std::string& context) const {
  if (ok()) return *this;
  return Status(code_, context + ": " + message_);
}

}  // namespace compass
