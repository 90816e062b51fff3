// Small string helpers shared across the core: suggestions for misspelt
// names, byte sizes, joining.
#ifndef COMPASS_UTIL_STRINGS_H_
#define COMPASS_UTIL_STRINGS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "util/status.h"

namespace compass {

// Edit distance between two byte strings (insert, delete, substitute, or
// swap two neighbours: one edit each).
size_t EditDistance(std::string_view a, std::string_view b);

// The candidate closest to `word` when it is close enough to be a plausible
// typo (distance <= max(1, len/3)), else "". Ties go to the first candidate.
std::string ClosestMatch(std::string_view word, const std::vector<std::string>& candidates);

// " (did you mean 'x'?)" or "" when nothing is close.
std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates);

// "a, b, c"
std::string Join(const std::vector<std::string>& parts, std::string_view sep = ", ");

// Parses "40GiB", "40 GB", "512MiB", "1.5TiB", "123" (bytes). GB/MB/KB are
// decimal, GiB/MiB/KiB binary; case-insensitive.
StatusOr<uint64_t> ParseByteSize(std::string_view text);

// 42949672960 -> "40.0 GiB".
std::string FormatBytes(uint64_t bytes);

std::vector<std::string> Split(std::string_view text, char sep);
std::string_view Trim(std::string_view text);

}  // namespace compass

#endif  // COMPASS_UTIL_STRINGS_H_
