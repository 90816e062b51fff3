// What the fuzz targets share: a scratch folder for parsers that read files,
// and an input split into parts at NUL bytes (the targets whose parser
// reads text use NUL, which no valid JSON, TOML, CSV or JSON Lines input
// needs, to carry a second input such as options beside the file).
#ifndef COMPASS_FUZZ_FUZZ_SUPPORT_H_
#define COMPASS_FUZZ_FUZZ_SUPPORT_H_

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

namespace compass::fuzz {

// A folder private to this process (under $TMPDIR, else /tmp), emptied by
// Reset() and removed at exit.
inline const std::filesystem::path& ScratchDir() {
  static const std::filesystem::path dir = [] {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/compass-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ec;
      std::filesystem::remove_all(ScratchDir(), ec);
    });
    return std::filesystem::path(pattern);
  }();
  return dir;
}

// Empties the scratch folder, so that nothing of the previous input (a
// SQLite journal, a second file) is seen with the next one.
inline void ResetScratch() {
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(ScratchDir(), ec)) {
    std::filesystem::remove_all(entry.path(), ec);
  }
}

// Writes `bytes` to ScratchDir()/`name` (folders created); returns the path.
inline std::filesystem::path WriteScratch(const std::string& name, std::string_view bytes) {
  const std::filesystem::path path = ScratchDir() / name;
  std::filesystem::create_directories(path.parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) {
    std::perror(path.c_str());
    std::abort();
  }
  return path;
}

// The input split at its first `parts - 1` NUL bytes; parts missing from the
// input are empty.
inline std::vector<std::string_view> SplitAtNul(const uint8_t* data, size_t size, size_t parts) {
  std::string_view rest(reinterpret_cast<const char*>(data), size);
  std::vector<std::string_view> out;
  while (out.size() + 1 < parts) {
    const size_t nul = rest.find('\0');
    if (nul == std::string_view::npos) break;
    out.push_back(rest.substr(0, nul));
    rest.remove_prefix(nul + 1);
  }
  out.push_back(rest);
  out.resize(parts);
  return out;
}

}  // namespace compass::fuzz

#endif  // COMPASS_FUZZ_FUZZ_SUPPORT_H_
