// Encoding throughput of a tokenizer.json tokenizer on a text file.
//
//   tokenizer_bench MODEL_DIR TEXT_FILE [--repeat N] [--threads N] [--no-special]
//
// MODEL_DIR holds tokenizer.json (+ tokenizer_config.json). Each line of
// TEXT_FILE is one document, encoded on its own (as a prompt is); with
// --threads the documents are shared among threads. Prints the load time,
// MB/s over the best of N passes, the token count and a checksum of the ids
// (FNV-1a over the ids of all documents in order), so that another
// implementation's ids can be compared.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

int Usage() {
  std::fprintf(stderr,
               "usage: tokenizer_bench MODEL_DIR TEXT_FILE [--repeat N] [--threads N] "
               "[--no-special]\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 3) return Usage();
  const std::string model_dir = argv[1];
  const std::string text_file = argv[2];
  int repeat = 3;
  int threads = 1;
  bool parse_special = true;
  for (int i = 3; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--threads" && i + 1 < argc) {
      threads = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--no-special") {
      parse_special = false;
    } else {
      return Usage();
    }
  }

  const auto load_start = std::chrono::steady_clock::now();
  auto loaded = compass::LoadTokenizer("auto", model_dir);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const double load_s = Seconds(load_start);
  const compass::Tokenizer& tokenizer = **loaded;

  std::ifstream in(text_file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "%s: cannot be read\n", text_file.c_str());
    return 1;
  }
  std::vector<std::string> docs;
  size_t bytes = 0;
  for (std::string line; std::getline(in, line);) {
    bytes += line.size();
    docs.push_back(std::move(line));
  }

  std::vector<std::vector<int32_t>> ids(docs.size());
  double best = 1e30;
  for (int pass = 0; pass < repeat; ++pass) {
    const auto start = std::chrono::steady_clock::now();
    std::atomic<size_t> next{0};
    auto work = [&] {
      for (size_t i; (i = next.fetch_add(64)) < docs.size();) {
        const size_t end = std::min(docs.size(), i + 64);
        for (; i < end; ++i) ids[i] = tokenizer.Encode(docs[i], parse_special);
      }
    };
    std::vector<std::thread> pool;
    for (int t = 1; t < threads; ++t) pool.emplace_back(work);
    work();
    for (auto& t : pool) t.join();
    best = std::min(best, Seconds(start));
  }

  uint64_t checksum = 1469598103934665603ull;
  size_t tokens = 0;
  for (const auto& doc : ids) {
    tokens += doc.size();
    for (int32_t id : doc) {
      checksum = (checksum ^ static_cast<uint32_t>(id)) * 1099511628211ull;
    }
  }
  std::printf(
      "compass %s: %zu documents, %.2f MB, load %.2f s, encode %.3f s (best of %d, %d "
      "thread%s), %.2f MB/s, %zu tokens, checksum %016llx\n",
      tokenizer.name().c_str(), docs.size(), bytes / 1e6, load_s, best, repeat, threads,
      threads == 1 ? "" : "s", bytes / 1e6 / best, tokens,
      static_cast<unsigned long long>(checksum));
  return 0;
}
