// Host-side cost of matching generation stop strings, per generated token:
// the ABI 1 path (the backend asks the host to detokenize the whole
// continuation after every token, then searches each stop string) against
// the ABI 2 path (compass::sdk::StopMatcher over the token byte table the
// host hands out once, at create). Both run in the same process, on the same
// token streams, and must stop every sequence at the same token.
//
//   stop_strings_bench [TOKENIZER_DIR] [--data GSM8K_JSONL] [--sequences N]
//                      [--tokens N] [--repeat N]
//
// TOKENIZER_DIR holds tokenizer.json (+ tokenizer_config.json); default the
// Llama-3 tokenizer in ../shared/data beside the repository. The sequences
// look like model output: GSM8K reference answers (calculator annotations
// <<...>> removed) joined by newlines, encoded once, and cut into N windows
// of --tokens ids spread over the stream. Two sets of four stop strings:
// one where none occurs (every sequence runs all its tokens; the number to
// quote), one where "\n####" (the line before a GSM8K final answer, spanning
// a token boundary) occurs. Times are the best of --repeat passes. The
// "before" path is the ABI 1 one call for call, including the SDK's second
// Decode when the text outgrew its 64-byte buffer; a line also gives it with
// one Decode per token, its lower bound. Exits 1 when the methods stop any
// sequence at different tokens.
#include <algorithm>
#include <chrono>
#include <compass/stop_matcher.hpp>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <functional>
#include <limits>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "tokenizer/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point since) {
  return std::chrono::duration<double>(Clock::now() - since).count();
}

int Usage() {
  std::fprintf(stderr,
               "usage: stop_strings_bench [TOKENIZER_DIR] [--data GSM8K_JSONL] [--sequences N] "
               "[--tokens N] [--repeat N]\n");
  return 2;
}

// The ABI 1 detokenize service, as PluginHost::Detokenize and the SDK's
// Host::detokenize did it: the service takes the host's mutex to read the
// run's detokenizer (a std::function over Tokenizer::Decode), decodes all
// ids, and copies what fits; the SDK wrapper offers a 64-byte buffer first
// and calls again with the size needed when the text is longer.
class OldHost {
 public:
  explicit OldHost(const compass::Tokenizer& t)
      : detokenize_([&t](const int32_t* ids, uint64_t n) { return t.Decode(ids, n); }) {}

  // PluginHost::Detokenize.
  bool Service(const int32_t* ids, uint64_t n, char* buf, uint64_t cap, uint64_t* needed) {
    std::function<compass::StatusOr<std::string>(const int32_t*, uint64_t)> fn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn = detokenize_;
    }
    ++decodes_;
    compass::StatusOr<std::string> text = fn(ids, n);
    if (!text.ok()) return false;
    if (needed) *needed = text->size();
    if (buf && cap) std::memcpy(buf, text->data(), std::min<uint64_t>(cap, text->size()));
    return true;
  }

  // sdk::Host::detokenize.
  std::string Detokenize(const int32_t* ids, uint64_t n) {
    uint64_t needed = 0;
    std::string out(64, '\0');
    if (!Service(ids, n, out.data(), out.size(), &needed)) std::abort();
    if (needed > out.size()) {
      out.resize(needed);
      if (!Service(ids, n, out.data(), out.size(), &needed)) std::abort();
    }
    out.resize(needed);
    return out;
  }

  // The text with one Decode call, as if the SDK had sized its buffer
  // right the first time: a lower bound of the ABI 1 cost.
  std::string DetokenizeOnce(const int32_t* ids, uint64_t n) {
    std::function<compass::StatusOr<std::string>(const int32_t*, uint64_t)> fn;
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn = detokenize_;
    }
    ++decodes_;
    compass::StatusOr<std::string> text = fn(ids, n);
    if (!text.ok()) std::abort();
    return std::move(text).value();
  }

  uint64_t decodes() const { return decodes_; }
  void reset_decodes() { decodes_ = 0; }

 private:
  std::mutex mu_;
  std::function<compass::StatusOr<std::string>(const int32_t*, uint64_t)> detokenize_;
  uint64_t decodes_ = 0;
};

using Sequences = std::vector<std::vector<int32_t>>;

// For each sequence, the number of tokens generated when it stops: the
// index of the token after which a stop string occurs, plus one, or the
// sequence's length when none does.
using StopAt = std::vector<size_t>;

struct Timing {
  double seconds = std::numeric_limits<double>::infinity();
  uint64_t tokens = 0;
  StopAt stop_at;
};

// Every method runs step by step over the batch, as a decode loop does:
// step t feeds token t of every sequence not yet stopped.

// The ABI 1 backend loop (hf_native's engine before ABI 2): append the
// token, detokenize the whole continuation, search every stop string.
Timing RunBefore(OldHost& host, const Sequences& seqs, const std::vector<std::string>& stops,
                 int repeat, bool decode_once = false) {
  Timing best;
  for (int r = 0; r < repeat; ++r) {
    const auto start = Clock::now();
    std::vector<std::vector<int32_t>> out(seqs.size());
    std::vector<bool> done(seqs.size(), false);
    StopAt stop_at(seqs.size());
    uint64_t tokens = 0;
    const size_t steps = seqs.empty() ? 0 : seqs[0].size();
    for (size_t step = 0; step < steps; ++step) {
      for (size_t k = 0; k < seqs.size(); ++k) {
        if (done[k]) continue;
        out[k].push_back(seqs[k][step]);
        ++tokens;
        const std::string text = decode_once ? host.DetokenizeOnce(out[k].data(), out[k].size())
                                             : host.Detokenize(out[k].data(), out[k].size());
        for (size_t s = 0; s < stops.size() && !done[k]; ++s) {
          if (!stops[s].empty() && text.find(stops[s]) != std::string::npos) done[k] = true;
        }
        if (out[k].size() >= seqs[k].size()) done[k] = true;
        if (done[k]) stop_at[k] = out[k].size();
      }
    }
    const double s = Seconds(start);
    if (s < best.seconds) best = {s, tokens, std::move(stop_at)};
  }
  return best;
}

// The ABI 2 backend loop: one StopMatcher per sequence over the shared
// token byte table.
Timing RunAfter(const compass::sdk::TokenBytes& table, const Sequences& seqs,
                const std::vector<std::string>& stops, int repeat) {
  std::vector<compass_str> stop_views;
  for (const std::string& s : stops) stop_views.push_back({s.data(), s.size()});
  Timing best;
  for (int r = 0; r < repeat; ++r) {
    const auto start = Clock::now();
    std::vector<compass::sdk::StopMatcher> matchers;
    matchers.reserve(seqs.size());
    for (size_t k = 0; k < seqs.size(); ++k) {
      matchers.emplace_back(table, stop_views.data(), stop_views.size());
    }
    std::vector<size_t> generated(seqs.size(), 0);
    std::vector<bool> done(seqs.size(), false);
    StopAt stop_at(seqs.size());
    uint64_t tokens = 0;
    const size_t steps = seqs.empty() ? 0 : seqs[0].size();
    for (size_t step = 0; step < steps; ++step) {
      for (size_t k = 0; k < seqs.size(); ++k) {
        if (done[k]) continue;
        ++generated[k];
        ++tokens;
        if (matchers[k].feed(seqs[k][step])) done[k] = true;
        if (generated[k] >= seqs[k].size()) done[k] = true;
        if (done[k]) stop_at[k] = generated[k];
      }
    }
    const double s = Seconds(start);
    if (s < best.seconds) best = {s, tokens, std::move(stop_at)};
  }
  return best;
}

std::string Escaped(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '\n') {
      out += "\\n";
    } else if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string Joined(const std::vector<std::string>& stops) {
  std::string out = "{";
  for (size_t i = 0; i < stops.size(); ++i) out += (i ? ", " : "") + Escaped(stops[i]);
  return out + "}";
}

// GSM8K answers without calculator annotations, one per line.
bool ReadAnswers(const std::string& path, std::string* text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    std::string answer = nlohmann::json::parse(line).at("answer").get<std::string>();
    std::string clean;
    for (size_t i = 0; i < answer.size();) {
      if (answer.compare(i, 2, "<<") == 0) {
        const size_t end = answer.find(">>", i + 2);
        if (end != std::string::npos) {
          i = end + 2;
          continue;
        }
      }
      // No blank lines, so that "\n\n" occurs only where a stop set puts it.
      if (answer[i] == '\n' && !clean.empty() && clean.back() == '\n') {
        ++i;
        continue;
      }
      clean += answer[i++];
    }
    *text += clean;
    *text += '\n';
  }
  return true;
}

// The number of sequences that every method stops at the same token;
// prints the others.
size_t Agree(const char* label, const StopAt& before, const StopAt& once, const StopAt& after) {
  size_t same = 0;
  for (size_t k = 0; k < after.size(); ++k) {
    if (before[k] == after[k] && once[k] == after[k]) {
      ++same;
    } else {
      std::printf(
          "  MISMATCH (%s) sequence %zu: tokens generated before %zu (one Decode: %zu), "
          "after %zu\n",
          label, k, before[k], once[k], after[k]);
    }
  }
  return same;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string shared = std::string(COMPASS_SOURCE_DIR) + "/../shared/data";
  std::string model_dir = shared + "/tokenizers/llama3";
  std::string data = shared + "/gsm8k/test.jsonl";
  size_t num_seqs = 64;
  size_t num_tokens = 256;
  int repeat = 5;
  bool have_dir = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--data" && i + 1 < argc) {
      data = argv[++i];
    } else if (arg == "--sequences" && i + 1 < argc) {
      num_seqs = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--tokens" && i + 1 < argc) {
      num_tokens = std::max(1, std::atoi(argv[++i]));
    } else if (arg == "--repeat" && i + 1 < argc) {
      repeat = std::max(1, std::atoi(argv[++i]));
    } else if (!have_dir && !arg.starts_with("--")) {
      model_dir = arg;
      have_dir = true;
    } else {
      return Usage();
    }
  }

  auto loaded = compass::LoadTokenizer("auto", model_dir);
  if (!loaded.ok()) {
    std::fprintf(stderr, "%s\n", loaded.status().ToString().c_str());
    return 1;
  }
  const compass::Tokenizer& tokenizer = **loaded;

  std::string text;
  if (!ReadAnswers(data, &text)) {
    std::fprintf(stderr, "%s: cannot be read\n", data.c_str());
    return 1;
  }
  const std::vector<int32_t> stream = tokenizer.Encode(text, /*parse_special=*/false);
  if (stream.size() < num_seqs * num_tokens) {
    std::fprintf(stderr, "%s gives %zu tokens; %zu x %zu are needed\n", data.c_str(), stream.size(),
                 num_seqs, num_tokens);
    return 1;
  }
  // Windows spread evenly over the stream, each opening where a character
  // starts (as a continuation does after its prompt).
  Sequences seqs(num_seqs);
  const size_t stride = (stream.size() - num_tokens) / std::max<size_t>(1, num_seqs - 1);
  for (size_t k = 0; k < num_seqs; ++k) {
    size_t at = k * stride;
    while (at + num_tokens < stream.size()) {
      const std::string b = tokenizer.TokenBytes(stream[at]);
      if (!b.empty() && (static_cast<unsigned char>(b[0]) & 0xC0) != 0x80) break;
      ++at;
    }
    const auto first = stream.begin() + static_cast<std::ptrdiff_t>(at);
    seqs[k].assign(first, first + static_cast<std::ptrdiff_t>(num_tokens));
  }

  // The table as the host builds it at backend create (BackendSession).
  const auto table_start = Clock::now();
  const std::vector<std::string> token_bytes = compass::TokenByteTable(tokenizer);
  std::vector<compass_str> views;
  views.reserve(token_bytes.size());
  size_t table_bytes = 0;
  for (const std::string& b : token_bytes) {
    views.push_back({b.data(), b.size()});
    table_bytes += b.size();
  }
  const compass::sdk::TokenBytes table(views.data(), views.size());
  const double table_s = Seconds(table_start);

  std::printf("tokenizer %s (%u ids); %zu sequences x %zu tokens from %s; best of %d\n",
              model_dir.c_str(), tokenizer.vocab_size(), num_seqs, num_tokens, data.c_str(),
              repeat);
  std::printf("token byte table: built once in %.1f ms (%zu ids, %.2f MB of bytes)\n",
              table_s * 1e3, token_bytes.size(), table_bytes / 1e6);

  struct Case {
    const char* name;
    std::vector<std::string> stops;
  };
  const Case cases[] = {
      {"no stop occurs", {"\n\n", "Question:", "</s>", "<|im_end|>"}},
      {"one stop occurs", {"\n\n", "Question:", "</s>", "\n####"}},
  };
  OldHost host(tokenizer);
  size_t agree = 0;
  size_t total = 0;
  for (const Case& c : cases) {
    host.reset_decodes();
    const Timing before = RunBefore(host, seqs, c.stops, repeat);
    const uint64_t decodes = host.decodes() / static_cast<uint64_t>(repeat);
    const Timing once = RunBefore(host, seqs, c.stops, repeat, /*decode_once=*/true);
    const Timing after = RunAfter(table, seqs, c.stops, repeat);
    const double ns_once = once.seconds * 1e9 / static_cast<double>(once.tokens);
    const double ns_before = before.seconds * 1e9 / static_cast<double>(before.tokens);
    const double ns_after = after.seconds * 1e9 / static_cast<double>(after.tokens);
    std::printf("\n%s: stops %s\n", c.name, Joined(c.stops).c_str());
    std::printf(
        "  before (host detokenize of the continuation per token): %10.1f ns/token, "
        "%9.3f ms for %llu tokens (%llu Decode calls)\n",
        ns_before, before.seconds * 1e3, static_cast<unsigned long long>(before.tokens),
        static_cast<unsigned long long>(decodes));
    std::printf(
        "  after  (StopMatcher on token bytes):                   %10.1f ns/token, "
        "%9.3f ms for %llu tokens\n",
        ns_after, after.seconds * 1e3, static_cast<unsigned long long>(after.tokens));
    std::printf("  ratio before/after: %.0fx\n", ns_before / ns_after);
    std::printf("  (before with one Decode per token, no SDK buffer retry: %.1f ns/token, %.0fx)\n",
                ns_once, ns_once / ns_after);
    size_t full = 0;
    for (size_t k = 0; k < num_seqs; ++k) full += before.stop_at[k] == num_tokens ? 1 : 0;
    std::printf("  sequences that ran all %zu tokens: %zu of %zu\n", num_tokens, full, num_seqs);
    if (full < num_seqs) {
      std::printf("  tokens generated when stopped, before:");
      for (size_t n : before.stop_at) std::printf(" %zu", n);
      std::printf("\n  tokens generated when stopped, after: ");
      for (size_t n : after.stop_at) std::printf(" %zu", n);
      std::printf("\n");
    }
    const size_t same = Agree(c.name, before.stop_at, once.stop_at, after.stop_at);
    std::printf("  same stop token under both methods: %zu of %zu sequences\n", same, num_seqs);
    agree += same;
    total += num_seqs;
  }
  if (agree != total) {
    std::printf("\nstop positions DIFFER in %zu of %zu sequences\n", total - agree, total);
    return 1;
  }
  std::printf("\nstop positions agree: %zu of %zu sequences\n", agree, total);
  return 0;
}
