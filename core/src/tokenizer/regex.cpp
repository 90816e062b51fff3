#include "tokenizer/regex.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "tokenizer/utf8.h"

namespace compass::hf {
namespace {

// Oniguruma's \s is Unicode White_Space; PCRE2's (in UCP mode) also takes
// U+180E, so spell the property out.
std::string TranslatePattern(std::string_view pattern) {
  std::string out;
  out.reserve(pattern.size() + 16);
  for (size_t i = 0; i < pattern.size(); ++i) {
    if (pattern[i] == '\\' && i + 1 < pattern.size()) {
      const char next = pattern[++i];
      if (next == 's') {
        out += "\\p{White_Space}";
      } else if (next == 'S') {
        out += "\\P{White_Space}";
      } else {
        out += '\\';
        out += next;
      }
      continue;
    }
    out += pattern[i];
  }
  return out;
}

// Per-thread JIT stack and match data: the default JIT stack is too small for
// patterns like \s+(?!\S) on long runs of whitespace.
struct ThreadMatchState {
  pcre2_jit_stack* stack = nullptr;
  pcre2_match_context* context = nullptr;
  pcre2_match_data* data = nullptr;

  ThreadMatchState() {
    stack = pcre2_jit_stack_create(32 * 1024, 8 * 1024 * 1024, nullptr);
    context = pcre2_match_context_create(nullptr);
    if (stack != nullptr && context != nullptr) pcre2_jit_stack_assign(context, nullptr, stack);
    // One pair is enough: only the whole match is used (a pattern with groups
    // then returns 0, "ovector too small", with the whole match filled in).
    data = pcre2_match_data_create(1, nullptr);
  }
  ~ThreadMatchState() {
    pcre2_match_data_free(data);
    pcre2_match_context_free(context);
    pcre2_jit_stack_free(stack);
  }
};

ThreadMatchState& MatchState() {
  thread_local ThreadMatchState state;
  return state;
}

}  // namespace

StatusOr<std::unique_ptr<Regex>> Regex::CompilePcre2(const std::string& pattern,
                                                     std::string_view original, uint32_t extra) {
  int error = 0;
  PCRE2_SIZE offset = 0;
  pcre2_code* code =
      pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                    PCRE2_UTF | PCRE2_NO_UTF_CHECK | extra, &error, &offset, nullptr);
  if (code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error, message, sizeof(message));
    return InvalidArgument("regular expression '" + std::string(original) +
                           "' does not compile: " + reinterpret_cast<const char*>(message));
  }
  // Without JIT (e.g. on a platform PCRE2 has no JIT for) the interpreter runs.
  pcre2_jit_compile(code, PCRE2_JIT_COMPLETE);
  return std::unique_ptr<Regex>(new Regex(code));
}

StatusOr<std::unique_ptr<Regex>> Regex::Compile(std::string_view pattern) {
  if (!IsValidUtf8(pattern)) return InvalidArgument("regular expression is not valid UTF-8");
  return CompilePcre2(TranslatePattern(pattern), pattern, PCRE2_UCP);
}

StatusOr<std::unique_ptr<Regex>> Regex::Literal(std::string_view literal) {
  if (!IsValidUtf8(literal)) return InvalidArgument("pattern is not valid UTF-8");
  return CompilePcre2(std::string(literal), literal, PCRE2_LITERAL);
}

Regex::~Regex() {
  pcre2_code_free(static_cast<pcre2_code*>(code_));
}

void Regex::FindAll(std::string_view text, std::vector<Range>* out) const {
  auto* code = static_cast<pcre2_code*>(code_);
  ThreadMatchState& state = MatchState();
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t start = 0;
  while (start <= text.size()) {
    int rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK, state.data,
                         state.context);
    if (rc < 0 && rc != PCRE2_ERROR_NOMATCH) {
      // The JIT stack ran out (a pathological input): the interpreter
      // backtracks on the heap instead.
      rc = pcre2_match(code, subject, text.size(), start, PCRE2_NO_UTF_CHECK | PCRE2_NO_JIT,
                       state.data, state.context);
    }
    if (rc < 0) break;
    const PCRE2_SIZE* ov = pcre2_get_ovector_pointer(state.data);
    const size_t b = ov[0], e = ov[1];
    out->emplace_back(b, e);
    if (e > b) {
      start = e;
    } else {
      if (e >= text.size()) break;
      start = e + Utf8SequenceLength(static_cast<unsigned char>(text[e]));
    }
  }
}

bool Regex::Search(std::string_view text) const {
  ThreadMatchState& state = MatchState();
  return pcre2_match(static_cast<pcre2_code*>(code_), reinterpret_cast<PCRE2_SPTR>(text.data()),
                     text.size(), 0, PCRE2_NO_UTF_CHECK, state.data, state.context) >= 0;
}

}  // namespace compass::hf
