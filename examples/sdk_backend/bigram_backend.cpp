// A complete third-party backend: a byte-level bigram language model with
// additive smoothing, estimated at load time from <model.path>/corpus.txt.
// It needs the byte tokenizer (model.tokenizer = "bytes": ids 0..255 are
// bytes, 256 is BOS, 257 is EOS) and serves every request kind: scoring,
// greedy and sampled generation (with the SDK's sampler and stop matcher, so
// that it samples and stops exactly as the in-tree backends do).
//
//   log p(t | prev) = log((count(prev, t) + a) / (count(prev) + a * V))
#include <compass/plugin.hpp>
#include <compass/sampling.hpp>
#include <compass/stop_matcher.hpp>

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
  static constexpr uint64_t capabilities =
      COMPASS_CAN_LOGLIKELIHOOD | COMPASS_CAN_GENERATE | COMPASS_CAN_SAMPLE;

  static compass_option_list options() {
    static const compass_option_spec specs[] = {compass::sdk::option(
        "smoothing", COMPASS_OPT_FLOAT, "additive smoothing constant a > 0 (default 1.0)")};
    return {specs, 1};
  }

  BigramBackend(const compass::sdk::Host& host, const compass_backend_config& config)
      : host_(host), token_bytes_(config) {
    if (config.vocab_size != kVocab && config.vocab_size != 0) {  // 0: planning, no tokenizer
      throw Error(COMPASS_INVALID_ARGUMENT,
                  "bigram needs the byte tokenizer (vocabulary of 258), got a vocabulary of " +
                      std::to_string(config.vocab_size) + "; set model.tokenizer = \"bytes\"");
    }
    if (config.num_devices == 0) throw Error(COMPASS_INVALID_ARGUMENT, "bigram needs a device");
    const compass_device_spec& device = *COMPASS_AT(compass_device_spec, config.devices, 0);
    device_ = std::string(compass::sdk::view(device.name));
    capacity_ = device.memory_bytes;
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
    sink.device(device_, capacity_, bytes, 0, 0);
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

  void execute(const compass::sdk::Requests& requests,
               const compass::sdk::ResponseSink& sink) override {
    Timed timed(this);
    uint64_t owed = 0, done = 0;
    for (const compass_request& r : requests) {
      owed += r.kind == COMPASS_REQUEST_GENERATE ? std::max(1u, r.num_samples) : 1;
    }
    for (const compass_request& r : requests) {
      host_.check_cancelled();
      const uint32_t samples = r.kind == COMPASS_REQUEST_GENERATE ? std::max(1u, r.num_samples) : 1;
      if (const std::string why = Invalid(r); !why.empty()) {
        sink.error(r, COMPASS_INVALID_ARGUMENT, why);  // this request only
      } else if (r.kind == COMPASS_REQUEST_LOGLIKELIHOOD) {
        Score(r, sink);
      } else {
        for (uint32_t s = 0; s < samples; ++s) Generate(r, s, sink);
      }
      done += samples;
      host_.progress(done, owed, tokens_);
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

  // Why a request cannot be served, or "".
  static std::string Invalid(const compass_request& r) {
    if (r.context.size == 0) return "empty context";
    for (compass_tokens t : {r.context, r.continuation}) {
      for (uint64_t i = 0; i < t.size; ++i) {
        if (t.ids[i] < 0 || t.ids[i] >= kVocab) {
          return "token id " + std::to_string(t.ids[i]) + " is outside the byte vocabulary";
        }
      }
    }
    return "";
  }

  void Score(const compass_request& r, const compass::sdk::ResponseSink& sink) {
    int prev = r.context.ids[r.context.size - 1];
    compass::sdk::LoglikelihoodAnswer a;
    for (uint64_t t = 0; t < r.continuation.size; ++t) {
      const int tok = r.continuation.ids[t];
      const double lp = LogProb(prev, tok);
      a.token_logprobs.push_back(static_cast<float>(lp));
      a.greedy_tokens.push_back(greedy_[prev]);
      a.greedy_logprobs.push_back(static_cast<float>(LogProb(prev, greedy_[prev])));
      a.logprob += lp;
      a.is_greedy = a.is_greedy && greedy_[prev] == tok;
      prev = tok;
    }
    tokens_ += r.context.size + r.continuation.size;
    sink.loglikelihood(r, a);
  }

  void Generate(const compass_request& r, uint32_t sample, const compass::sdk::ResponseSink& sink) {
    compass::sdk::Sampler sampler(r, sample);
    compass::sdk::StopMatcher stop(token_bytes_, r);
    compass::sdk::GenerationAnswer a;
    a.sample = sample;
    int prev = r.context.ids[r.context.size - 1];
    std::vector<float> logits(kVocab);
    while (a.tokens.size() < r.max_new_tokens) {
      for (int t = 0; t < kVocab; ++t) logits[t] = static_cast<float>(LogProb(prev, t));
      const int tok = sampler.greedy() ? greedy_[prev] : sampler.next(logits.data(), kVocab);
      if (std::find(r.stop_token_ids.ids, r.stop_token_ids.ids + r.stop_token_ids.size, tok) !=
          r.stop_token_ids.ids + r.stop_token_ids.size) {
        a.finish_reason = COMPASS_FINISH_STOP_TOKEN;
        break;
      }
      a.tokens.push_back(tok);
      a.token_logprobs.push_back(logits[tok]);
      prev = tok;
      if (stop.feed(tok)) {
        a.finish_reason = COMPASS_FINISH_STOP_STRING;
        break;
      }
    }
    tokens_ += r.context.size + a.tokens.size();
    sink.generation(r, a);
  }

  double LogProb(int prev, int tok) const {
    return std::log((counts_[prev * kVocab + tok] + smoothing_) /
                    (row_total_[prev] + smoothing_ * kVocab));
  }

  compass::sdk::Host host_;
  compass::sdk::TokenBytes token_bytes_;
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
