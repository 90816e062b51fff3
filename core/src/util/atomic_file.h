// Replacing files so that a reader (or a crash, or a full disk) never leaves
// one half written: each content goes to a temporary file in the target's
// folder, is checked written (every write, the flush to disk and the close),
// and only then renamed over the target.
//
// Errors are IoError values naming the file that could not be written and
// why ("No space left on device", "File too large"); the targets are then
// left exactly as they were and the temporary files removed.
//
// Threading: independent calls may run at once on different targets.
#ifndef COMPASS_UTIL_ATOMIC_FILE_H_
#define COMPASS_UTIL_ATOMIC_FILE_H_

#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include "util/status.h"

namespace compass {

// Replaces (or creates) `path` with `content`.
Status WriteFileAtomically(const std::filesystem::path& path, const std::string& content);

// Replaces several files as one: every content is written and flushed
// first, and only when all of them are safely on disk are they renamed, so
// a failure leaves every previous file as it was, never a mix of old and
// new.
Status WriteFilesAtomically(
    const std::vector<std::pair<std::filesystem::path, std::string>>& files);

}  // namespace compass

#endif  // COMPASS_UTIL_ATOMIC_FILE_H_
