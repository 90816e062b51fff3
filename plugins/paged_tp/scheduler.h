// paged_tp's scheduler: continuous batching over a BlockManager, with
// chunked prefill, sibling-aware prefix sharing and preemption by
// recomputation. It decides which tokens each step computes; the engine runs
// the step and reports back (Completed, Finish).
//
// Rules (docs/backends/paged_tp.md, "Scheduler"), in short:
// - A step holds at most max_num_seqs chunks and at most max_batched_tokens
//   tokens; running sequences never exceed max_num_seqs.
// - Order within a step: running decodes, then continuing prefills, then new
//   admissions from the waiting queue (in the order added; preempted
//   sequences go back to its front).
// - A sequence is admitted with blocks for its whole current text; only a
//   decode grows its table. When a decode cannot grow, the most recently
//   admitted running sequence is preempted (repeatedly, possibly the decoding
//   sequence itself); no admissions follow in that step unless it would
//   otherwise be empty.
// - Positions computed once may be computed again after a preemption (with
//   the same text): the engine keeps per-position results.
//
// Threading: not thread-safe; one engine thread. The BlockManager is borrowed,
// must outlive the scheduler, and is used for the scheduler's sequences only.
#ifndef COMPASS_PAGED_TP_SCHEDULER_H_
#define COMPASS_PAGED_TP_SCHEDULER_H_

#include <cstdint>
#include <deque>
#include <map>
#include <unordered_map>
#include <vector>

#include "block_manager.h"
#include "util/status.h"

namespace compass::paged_tp {

struct SequenceSpec {
  SeqId id = 0;
  std::vector<int32_t> prompt;  // non-empty
  // First position whose logits the engine needs (< prompt.size()); cached
  // blocks are reused only below it, rounded down to a block boundary (after a
  // preemption, also below the positions already reported by Completed).
  int64_t logits_from = 0;
  // 0: scoring only (the engine finishes it when the prompt is computed).
  // Otherwise decode chunks are scheduled while fewer tokens were generated.
  int64_t max_new_tokens = 0;
};

struct SchedulerOptions {
  int64_t max_num_seqs = 256;         // >= 1 (smaller values count as 1)
  int64_t max_batched_tokens = 2048;  // >= 1 (smaller values count as 1)
  bool chunked_prefill = true;
};

// One row of a step.
struct Chunk {
  SeqId id = 0;
  int64_t start = 0;            // first position computed (== tokens already holding K/V)
  std::vector<int32_t> tokens;  // the tokens at [start, start + tokens.size())
  // This chunk computes the prompt's (or, when recomputing after a preemption,
  // the current text's) last token: its logits give the next token.
  bool last_of_prompt = false;
  bool decode = false;  // a decode step (one generated token)
};

struct Step {
  std::vector<Chunk> chunks;
};

class Scheduler {
 public:
  Scheduler(BlockManager* blocks, SchedulerOptions options);
  Scheduler(const Scheduler&) = delete;
  Scheduler& operator=(const Scheduler&) = delete;

  // Queues a sequence behind those already added. InvalidArgument if the id is
  // known (including finished ones), the prompt is empty, logits_from is not
  // in [0, prompt.size()), max_new_tokens < 0, or (without chunked prefill)
  // the prompt is longer than max_batched_tokens; OutOfMemory when it could
  // never fit: BlocksFor(prompt + max_new_tokens) > num_blocks.
  Status Add(SequenceSpec spec);

  // The next step; empty when nothing is left (or when every remaining
  // sequence awaits its next token or Finish). Call Completed for a step
  // before the next Schedule. The chunks' positions map to blocks through
  // blocks->Table(id), valid until the next Schedule or Finish.
  Step Schedule();

  // After the engine ran `step`: the positions each chunk computed now hold
  // K/V. `next_token` gives, for chunks with last_of_prompt or decode of a
  // generating sequence, the token sampled from their logits (a token beyond
  // max_new_tokens is ignored); the engine calls Finish(id) instead (or after)
  // when the sequence is done. Chunks of finished sequences are ignored.
  void Completed(const Step& step, const std::map<SeqId, int32_t>& next_token);

  // Commits (what Completed reported) and frees the sequence's blocks; it
  // never appears again (its Generated() stays readable). Also valid while it
  // waits, or before Completed for a step holding it (that chunk's positions
  // are then not shared). Unknown or finished ids: no-op.
  void Finish(SeqId id);

  bool Empty() const { return waiting_.empty() && running_.empty(); }
  int64_t NumWaiting() const { return static_cast<int64_t>(waiting_.size()); }
  int64_t NumRunning() const { return static_cast<int64_t>(running_.size()); }

  struct Stats {
    uint64_t steps = 0, preemptions = 0;
    // requested counts each prompt once; computed counts what the steps
    // computed for prompts (recomputation after preemption included).
    uint64_t prompt_tokens_requested = 0, prompt_tokens_computed = 0;
  };
  const Stats& stats() const { return stats_; }

  // The sequence's generated tokens so far (kept across preemption); empty for
  // an unknown id.
  const std::vector<int32_t>& Generated(SeqId id) const;

 private:
  enum class State { kWaiting, kRunning, kFinished };
  struct Seq {
    SequenceSpec spec;
    std::vector<int32_t> text;  // prompt + generated
    std::vector<int32_t> generated;
    State state = State::kWaiting;
    int64_t target = 0;     // text length when admitted: the prefill computes [.., target)
    int64_t computed = 0;   // positions computed or scheduled in the outstanding step
    int64_t committed = 0;  // positions the engine reported as holding K/V
    int64_t reported = 0;   // the most positions ever committed: logits [0, reported) delivered
    bool in_flight = false;
  };

  Seq& Get(SeqId id) { return seqs_.at(id); }
  bool WantsDecode(const Seq& s) const;
  int64_t ReuseCap(const Seq& s) const;
  bool SiblingComputing(const Seq& s, int64_t matched, int64_t cap) const;
  void Preempt(SeqId id);
  void Admit(Step& step, int64_t& budget, bool defer_siblings);
  void AddChunk(Step& step, Seq& s, int64_t count, bool decode);

  BlockManager* blocks_;
  SchedulerOptions options_;
  std::unordered_map<SeqId, Seq> seqs_;
  std::deque<SeqId> waiting_;
  std::vector<SeqId> running_;  // in admission order: the back is the most recent
  Stats stats_;
};

}  // namespace compass::paged_tp

#endif  // COMPASS_PAGED_TP_SCHEDULER_H_
