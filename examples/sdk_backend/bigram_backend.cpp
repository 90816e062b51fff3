// A complete third-party backend: a byte-level bigram language model with
// additive smoothing, estimated at load time from <model.path>/corpus.txt.
// It needs the byte tokenizer (model.tokenizer = "bytes": ids 0..255 are
// bytes, 256 is BOS, 257 is EOS) and serves all three request types.
//
//   log p(t | prev) = log((count(prev, t) + a) / (count(prev) + a * V))
#include <compass/plugin.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iterator>
#include <numeric>
#include <sstream>
#include <string>
#include <vector>

namespace {

using compass::sdk::Error;

constexpr int kVocab = 258;
constexpr int kBos = 256;

class BigramBackend final : public compass::sdk::Backend {
 public:
  static compass_option_list options() {
    static const compass_option_spec specs[] = {compass::sdk::option(
        "smoothing", COMPASS_OPT_FLOAT, "additive smoothing constant a > 0 (default 1.0)")};
    return {specs, 1};
  }

  BigramBackend(const compass::sdk::Host& host, const compass_backend_config& config)
      : host_(host) {
    if (config.vocab_size != kVocab) {
      throw Error(COMPASS_INVALID_ARGUMENT,
                  "bigram needs the byte tokenizer (vocabulary of 258), got a vocabulary of " +
                      std::to_string(config.vocab_size) + "; set model.tokenizer = \"bytes\"");
    }
    if (config.num_devices == 0) throw Error(COMPASS_INVALID_ARGUMENT, "bigram needs a device");
    device_ = std::string(compass::sdk::view(config.devices[0].name));
    capacity_ = config.devices[0].memory_bytes;
    corpus_ = std::string(compass::sdk::view(config.model_path)) + "/corpus.txt";
    if (!std::ifstream(corpus_)) {
      throw Error(COMPASS_NOT_FOUND, corpus_ +
                                         " does not exist; the bigram model is estimated "
                                         "from a corpus.txt in the model folder");
    }
    const std::string opts(compass::sdk::view(config.options_json));
    const auto key = opts.find("\"smoothing\":");
    if (key != std::string::npos) smoothing_ = std::stod(opts.substr(key + 12));
    if (!(smoothing_ > 0)) throw Error(COMPASS_INVALID_ARGUMENT, "smoothing must be > 0");
  }

  void plan(const compass::sdk::PlanSink& sink) override {
    const uint64_t bytes = TableBytes();
    sink.placement("bigram_table", device_, bytes);
    compass_device_plan d{compass::sdk::str(device_), capacity_, bytes, 0, 0};
    sink.device(d);
    sink.verdict(bytes <= capacity_, bytes <= capacity_ ? "" : "the bigram table does not fit");
  }

  void load() override {
    std::ifstream in(corpus_, std::ios::binary);
    const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    counts_.assign(kVocab * kVocab, 0.0);
    int prev = kBos;
    for (unsigned char c : text) {
      counts_[prev * kVocab + c] += 1;
      prev = c;
    }
    row_total_.assign(kVocab, 0.0);
    greedy_.assign(kVocab, 0);
    for (int p = 0; p < kVocab; ++p) {
      const double* row = &counts_[p * kVocab];
      row_total_[p] = std::accumulate(row, row + kVocab, 0.0);
      greedy_[p] = static_cast<int>(std::max_element(row, row + kVocab) - row);
    }
    host_.info("estimated from " + std::to_string(text.size()) + " bytes of " + corpus_);
  }

  void loglikelihood(const compass_loglikelihood_request* requests, uint64_t n,
                     const compass::sdk::ResponseSink& sink) override {
    Timed timed(this);
    for (uint64_t i = 0; i < n; ++i) {
      if (i % 64 == 0) host_.check_cancelled();
      const auto& r = requests[i];
      int prev = r.context.ids[r.context.size - 1];
      double total = 0;
      bool greedy = true;
      std::vector<float> per_token;
      for (uint64_t t = 0; t < r.continuation.size; ++t) {
        const int tok = Checked(r.continuation.ids[t]);
        const double lp = LogProb(prev, tok);
        per_token.push_back(static_cast<float>(lp));
        total += lp;
        greedy = greedy && greedy_[prev] == tok;
        prev = tok;
      }
      tokens_ += r.continuation.size;
      sink.loglikelihood(r.index, total, greedy, per_token);
      host_.progress(i + 1, n, tokens_);
    }
  }

  void loglikelihood_rolling(const compass_rolling_request* requests, uint64_t n,
                             const compass::sdk::ResponseSink& sink) override {
    Timed timed(this);
    for (uint64_t i = 0; i < n; ++i) {
      const auto& r = requests[i];
      int prev = r.prefix.size ? r.prefix.ids[r.prefix.size - 1] : kBos;
      double total = 0;
      for (uint64_t t = 0; t < r.tokens.size; ++t) {
        const int tok = Checked(r.tokens.ids[t]);
        total += LogProb(prev, tok);
        prev = tok;
      }
      tokens_ += r.tokens.size;
      sink.rolling(r.index, total, r.tokens.size);
      host_.progress(i + 1, n, tokens_);
    }
  }

  void generate_until(const compass_generate_request* requests, uint64_t n,
                      const compass::sdk::ResponseSink& sink) override {
    Timed timed(this);
    for (uint64_t i = 0; i < n; ++i) {
      host_.check_cancelled();
      const auto& r = requests[i];
      int prev = r.context.ids[r.context.size - 1];
      std::vector<int32_t> out;
      compass_finish_reason reason = COMPASS_FINISH_LENGTH;
      while (out.size() < r.max_new_tokens) {
        const int tok = greedy_[prev];
        if (std::find(r.stop_token_ids.ids, r.stop_token_ids.ids + r.stop_token_ids.size, tok) !=
            r.stop_token_ids.ids + r.stop_token_ids.size) {
          reason = COMPASS_FINISH_STOP_TOKEN;
          break;
        }
        out.push_back(tok);
        prev = tok;
        if (HitsStop(out, r)) {
          reason = COMPASS_FINISH_STOP_STRING;
          break;
        }
      }
      tokens_ += out.size();
      sink.generate(r.index, out, reason);
      host_.progress(i + 1, n, tokens_);
    }
  }

  void figures(const compass::sdk::FigureSink& sink) override {
    sink.figure("tokens_scored", static_cast<double>(tokens_), COMPASS_UNIT_COUNT);
    sink.figure("busy_seconds", seconds_, COMPASS_UNIT_SECONDS);
    if (seconds_ > 0) {
      sink.figure("tokens_per_s", static_cast<double>(tokens_) / seconds_, COMPASS_UNIT_PER_SECOND);
    }
    sink.figure("table_memory", static_cast<double>(TableBytes()), COMPASS_UNIT_BYTES, device_);
  }

 private:
  struct Timed {
    BigramBackend* self;
    std::chrono::steady_clock::time_point start = std::chrono::steady_clock::now();
    explicit Timed(BigramBackend* s) : self(s) {}
    ~Timed() {
      self->seconds_ +=
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    }
  };

  static uint64_t TableBytes() { return uint64_t{kVocab} * (kVocab + 2) * sizeof(double); }

  static int Checked(int32_t tok) {
    if (tok < 0 || tok >= kVocab) {
      throw Error(COMPASS_INVALID_ARGUMENT,
                  "token id " + std::to_string(tok) + " is outside the byte vocabulary");
    }
    return tok;
  }

  double LogProb(int prev, int tok) const {
    return std::log((counts_[prev * kVocab + tok] + smoothing_) /
                    (row_total_[prev] + smoothing_ * kVocab));
  }

  bool HitsStop(const std::vector<int32_t>& out, const compass_generate_request& r) const {
    if (r.num_stop == 0) return false;
    const std::string text = host_.detokenize(out.data(), out.size());
    for (uint64_t s = 0; s < r.num_stop; ++s) {
      const auto stop = compass::sdk::view(r.stop[s]);
      if (!stop.empty() && text.find(stop) != std::string::npos) return true;
    }
    return false;
  }

  compass::sdk::Host host_;
  std::string device_, corpus_;
  uint64_t capacity_ = 0;
  double smoothing_ = 1.0;
  std::vector<double> counts_, row_total_;
  std::vector<int> greedy_;
  uint64_t tokens_ = 0;
  double seconds_ = 0;
};

}  // namespace

COMPASS_EXPORT_BACKEND(BigramBackend, "bigram", "1.0.0",
                       "Byte-level bigram language model (an example third-party backend)")
