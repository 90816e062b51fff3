#include "scheduler.h"

#include <algorithm>
#include <cassert>
#include <string>

namespace compass::paged_tp {

Scheduler::Scheduler(BlockManager* blocks, SchedulerOptions options)
    : blocks_(blocks), options_(options) {
  options_.max_num_seqs = std::max<int64_t>(options_.max_num_seqs, 1);
  options_.max_batched_tokens = std::max<int64_t>(options_.max_batched_tokens, 1);
}

Status Scheduler::Add(SequenceSpec spec) {
  const std::string name = "sequence " + std::to_string(spec.id);
  if (seqs_.count(spec.id) != 0) return InvalidArgument(name + " was already added");
  if (spec.prompt.empty()) return InvalidArgument(name + " has an empty prompt");
  const auto prompt = static_cast<int64_t>(spec.prompt.size());
  if (spec.logits_from < 0 || spec.logits_from >= prompt) {
    return InvalidArgument(name + ": logits_from " + std::to_string(spec.logits_from) +
                           " is outside its prompt of " + std::to_string(prompt) + " tokens");
  }
  if (spec.max_new_tokens < 0) return InvalidArgument(name + ": max_new_tokens is negative");
  const int64_t needed = blocks_->BlocksFor(prompt + spec.max_new_tokens);
  if (needed > blocks_->num_blocks()) {
    return OutOfMemory(name + " needs " + std::to_string(needed) + " KV blocks of " +
                       std::to_string(blocks_->block_size()) + " tokens (" +
                       std::to_string(prompt) + " prompt + " + std::to_string(spec.max_new_tokens) +
                       " new tokens) but the cache has " + std::to_string(blocks_->num_blocks()));
  }
  if (!options_.chunked_prefill && prompt > options_.max_batched_tokens) {
    return InvalidArgument(
        name + "'s prompt of " + std::to_string(prompt) + " tokens exceeds max_batched_tokens (" +
        std::to_string(options_.max_batched_tokens) + ") and chunked prefill is off");
  }
  stats_.prompt_tokens_requested += static_cast<uint64_t>(prompt);
  Seq s;
  s.text = spec.prompt;
  s.spec = std::move(spec);
  const SeqId id = s.spec.id;
  seqs_.emplace(id, std::move(s));
  waiting_.push_back(id);
  return Status::Ok();
}

bool Scheduler::WantsDecode(const Seq& s) const {
  const auto text = static_cast<int64_t>(s.text.size());
  return !s.in_flight && s.computed >= s.target && s.computed == text - 1 &&
         static_cast<int64_t>(s.generated.size()) < s.spec.max_new_tokens;
}

int64_t Scheduler::ReuseCap(const Seq& s) const {
  // Positions below `reported` already delivered their logits (before a
  // preemption), so the cap only protects positions not yet delivered; the
  // last position is always computed, for its logits.
  const int64_t bs = blocks_->block_size();
  const int64_t below = std::max(s.spec.logits_from, s.reported) / bs * bs;
  return std::min<int64_t>(below, static_cast<int64_t>(s.text.size()) - 1);
}

bool Scheduler::SiblingComputing(const Seq& s, int64_t matched, int64_t cap) const {
  const int64_t end = matched + blocks_->block_size();  // the next full block
  if (end > cap) return false;
  for (SeqId id : running_) {
    const Seq& r = seqs_.at(id);
    // r will compute the block (its prefill or its next decode covers it) but
    // has not committed it.
    const auto text = static_cast<int64_t>(r.text.size());
    const int64_t covered = static_cast<int64_t>(r.generated.size()) < r.spec.max_new_tokens
                                ? text
                                : std::max(r.target, text - 1);
    if (r.committed >= end || covered < end) continue;
    if (std::equal(s.text.begin() + matched, s.text.begin() + end, r.text.begin() + matched) &&
        std::equal(s.text.begin(), s.text.begin() + matched, r.text.begin())) {
      return true;
    }
  }
  return false;
}

void Scheduler::Preempt(SeqId id) {
  Seq& s = Get(id);
  // Its computed full blocks stay cached (evictable) for the recomputation.
  blocks_->Commit(id, s.text, s.committed);
  blocks_->Free(id);
  s.state = State::kWaiting;
  s.computed = s.committed = s.target = 0;
  s.in_flight = false;
  running_.erase(std::find(running_.begin(), running_.end(), id));
  waiting_.push_front(id);
  ++stats_.preemptions;
}

void Scheduler::AddChunk(Step& step, Seq& s, int64_t count, bool decode) {
  Chunk c;
  c.id = s.spec.id;
  c.start = s.computed;
  c.tokens.assign(s.text.begin() + s.computed, s.text.begin() + s.computed + count);
  c.decode = decode;
  s.computed += count;
  c.last_of_prompt = !decode && s.computed == s.target;
  s.in_flight = true;
  if (!decode) stats_.prompt_tokens_computed += static_cast<uint64_t>(count);
#ifndef NDEBUG
  for (int64_t p = c.start; p < s.computed; ++p) assert(blocks_->CanWrite(c.id, p));
#endif
  step.chunks.push_back(std::move(c));
}

void Scheduler::Admit(Step& step, int64_t& budget, bool defer_siblings) {
  int64_t deferred = 0;
  for (auto it = waiting_.begin(); it != waiting_.end();) {
    if (budget <= 0 || NumRunning() >= options_.max_num_seqs) return;
    // Bounded look-ahead past deferred siblings keeps a step's cost bounded.
    if (deferred >= options_.max_num_seqs) return;
    Seq& s = Get(*it);
    const int64_t cap = ReuseCap(s);
    const int64_t matched = blocks_->MatchPrefix(s.text, cap);
    if (defer_siblings && blocks_->prefix_caching() && SiblingComputing(s, matched, cap)) {
      ++it;  // its next block is on its way: share it rather than compute it twice
      ++deferred;
      continue;
    }
    const auto text = static_cast<int64_t>(s.text.size());
    const int64_t need = text - matched;
    // Without chunked prefill a prompt waits for a step with room; only a
    // recomputation longer than max_batched_tokens (it could never fit) is split.
    if (!options_.chunked_prefill && need > budget && need <= options_.max_batched_tokens) return;
    const std::optional<int64_t> reused = blocks_->Allocate(s.spec.id, s.text, cap, text);
    if (!reused) return;  // in order: later sequences do not overtake for blocks
    assert(*reused == matched);
    s.state = State::kRunning;
    s.target = text;
    s.computed = s.committed = *reused;
    running_.push_back(s.spec.id);
    const int64_t count = std::min(need, budget);
    budget -= count;
    AddChunk(step, s, count, /*decode=*/false);
    it = waiting_.erase(it);
  }
}

Step Scheduler::Schedule() {
  Step step;
  int64_t budget = options_.max_batched_tokens;
  bool preempted = false;

  // Running decodes, oldest first. A victim is always the most recently
  // admitted sequence, which is not yet in this step (or is this one).
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    const SeqId id = running_[i];
    Seq& s = Get(id);
    if (!WantsDecode(s)) continue;
    bool self = false;
    while (!blocks_->Grow(id, s.computed + 1)) {
      const SeqId victim = running_.back();
      Preempt(victim);
      preempted = true;
      if (victim == id) {
        self = true;
        break;
      }
    }
    if (self) break;
    --budget;
    AddChunk(step, s, 1, /*decode=*/true);
  }

  // Continuing prefills (their blocks were allocated at admission).
  for (size_t i = 0; i < running_.size() && budget > 0; ++i) {
    Seq& s = Get(running_[i]);
    if (s.in_flight || s.computed >= s.target) continue;
    const int64_t need = s.target - s.computed;
    if (!options_.chunked_prefill && need > budget && need <= options_.max_batched_tokens) {
      continue;
    }
    const int64_t count = std::min(need, budget);
    budget -= count;
    AddChunk(step, s, count, /*decode=*/false);
  }

  // Admissions; not after a preemption (its victims would only be taken back
  // in) unless the step would otherwise be empty. Sibling deferral only when
  // other work exists.
  if (!preempted) Admit(step, budget, /*defer_siblings=*/true);
  if (step.chunks.empty()) Admit(step, budget, /*defer_siblings=*/false);

  if (!step.chunks.empty()) ++stats_.steps;
  return step;
}

void Scheduler::Completed(const Step& step, const std::map<SeqId, int32_t>& next_token) {
  for (const Chunk& c : step.chunks) {
    auto found = seqs_.find(c.id);
    if (found == seqs_.end()) continue;
    Seq& s = found->second;
    if (s.state != State::kRunning || !s.in_flight) continue;
    s.in_flight = false;
    s.committed = c.start + static_cast<int64_t>(c.tokens.size());
    s.reported = std::max(s.reported, s.committed);
    blocks_->Commit(c.id, s.text, s.committed);
    if (!c.last_of_prompt && !c.decode) continue;
    auto token = next_token.find(c.id);
    if (token == next_token.end()) continue;
    if (static_cast<int64_t>(s.generated.size()) >= s.spec.max_new_tokens) continue;
    s.generated.push_back(token->second);
    s.text.push_back(token->second);
  }
}

void Scheduler::Finish(SeqId id) {
  auto found = seqs_.find(id);
  if (found == seqs_.end()) return;
  Seq& s = found->second;
  if (s.state == State::kRunning) {
    // Only what Completed reported: a chunk never run must not become shareable.
    blocks_->Commit(id, s.text, s.committed);
    blocks_->Free(id);
    running_.erase(std::find(running_.begin(), running_.end(), id));
  } else if (s.state == State::kWaiting) {
    waiting_.erase(std::find(waiting_.begin(), waiting_.end(), id));
  } else {
    return;
  }
  s.state = State::kFinished;
  s.in_flight = false;
  // Only the id (never reusable) and the generated tokens are kept.
  s.text = {};
  s.spec.prompt = {};
}

const std::vector<int32_t>& Scheduler::Generated(SeqId id) const {
  static const std::vector<int32_t> kEmpty;
  auto found = seqs_.find(id);
  return found == seqs_.end() ? kEmpty : found->second.generated;
}

}  // namespace compass::paged_tp
