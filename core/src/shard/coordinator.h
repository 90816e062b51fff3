// The processes of a sharded launch meet, watch each other and finish
// together through a shared key-value store (key_value_store.h):
//   join/<rank>   set once by each rank; Join waits for all of them
//   launch        rank 0's launch id, which every rank then uses
//   beat/<rank>   a counter each rank raises every heartbeat
//   hb/<rank>     {host, pid, done, total}: who the rank is and its progress
//   done/<rank>   the rank's summary, once its share is stored
//   stop          why the launch stops (a rank died, or a rank failed)
// A rank whose counter stops moving for `timeout_seconds` (measured on the
// watcher's own clock) before it is done is dead: the first rank to see it
// sets `stop`, naming the rank, its host and pid, and every rank's
// `on_stop` is called with that reason (the run then cancels its backend).
// A store that keeps failing for `timeout_seconds` (rank 0, which serves a
// TCP rendezvous, is gone) stops this rank the same way.
//
// No wait is unbounded: Join has its own timeout, WaitForAll ends when
// every rank is done or the launch stops.
//
// Threading: one background thread per Coordinator beats and watches; the
// public methods are called from one other thread. `on_stop` runs on the
// background thread, once.
#ifndef COMPASS_SHARD_COORDINATOR_H_
#define COMPASS_SHARD_COORDINATOR_H_

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "shard/key_value_store.h"
#include "util/status.h"

namespace compass {

struct CoordinatorOptions {
  uint32_t rank = 0, world = 1;
  std::string host;  // this process's host name, for the others' messages
  int64_t pid = 0;
  double heartbeat_seconds = 1;
  double timeout_seconds = 60;        // a rank silent this long is dead
  double join_timeout_seconds = 300;  // every rank must have joined by then
  // Put before every key, for a store shared with others (torchrun's
  // agent store, which lives across the restarts of its workers).
  std::string key_prefix;
};

class Coordinator {
 public:
  using StopCallback = std::function<void(const std::string& reason)>;

  // Starts beating at once. `on_stop` may be empty.
  Coordinator(std::unique_ptr<KeyValueStore> store, CoordinatorOptions options,
              StopCallback on_stop);
  // Stops the background thread (the others then see no more beats). Rank 0,
  // which may serve the rendezvous, first waits after a stop until every
  // other rank has seen it, finished or died (at most timeout_seconds), so
  // that they learn why rather than lose the rendezvous.
  ~Coordinator();
  Coordinator(const Coordinator&) = delete;
  Coordinator& operator=(const Coordinator&) = delete;

  // Waits until every rank has joined; returns the launch id every rank
  // uses (rank 0's `proposed`). DeadlineExceeded-like InvalidArgument
  // naming the ranks missing after join_timeout_seconds; the stop reason
  // when the launch stops meanwhile.
  StatusOr<std::string> Join(const std::string& proposed);

  // This rank's progress, published with its heartbeat.
  void SetProgress(uint64_t done, uint64_t total);
  // What this rank does when it stores nothing itself ("serving model copy
  // 0"), said instead of its progress when others name it.
  void SetRole(const std::string& role);

  // This rank's share is stored; `summary` is handed to rank 0.
  Status MarkDone(const std::string& summary);

  // Rank 0: waits until every rank is done and returns their summaries
  // (by rank), or the stop reason as an error.
  StatusOr<std::vector<std::string>> WaitForAll();

  // Stops the launch: every rank's on_stop gets `reason`.
  void Stop(const std::string& reason);

  // Why the launch stopped, if it did.
  std::optional<std::string> stop_reason() const;
  // The same, waiting up to `seconds` for the launch to stop (a rank that
  // died is seen within timeout_seconds).
  std::optional<std::string> WaitForStop(double seconds);
  double timeout_seconds() const { return options_.timeout_seconds; }

 private:
  void Loop();
  void Beat();
  void Fire(const std::string& reason, bool publish);
  void LingerAfterStop();
  std::string Describe(uint32_t rank);  // "rank 2 (host h, pid 17, 10/40 requests)"; mu_ held
  std::string Key(const char* name) const { return options_.key_prefix + name; }
  std::string Key(const char* prefix, uint32_t rank) const {
    return options_.key_prefix + prefix + "/" + std::to_string(rank);
  }

  std::unique_ptr<KeyValueStore> store_;
  const CoordinatorOptions options_;
  StopCallback on_stop_;
  mutable std::mutex mu_;  // store_, the fields below
  std::condition_variable wake_;
  bool quit_ = false;
  bool joined_ = false;
  bool done_ = false;
  std::optional<std::string> stop_reason_;
  uint64_t progress_done_ = 0, progress_total_ = 0;
  std::string role_;
  std::string last_heartbeat_;
  // Per rank: the last counter seen, when it last moved, whether it is done.
  std::vector<int64_t> last_beat_;
  std::vector<double> last_moved_;
  std::vector<bool> rank_done_;
  double failing_since_ = -1;     // when the store began to fail; -1 = it works
  std::string rank0_ = "rank 0";  // who serves the rendezvous, for messages
  std::thread thread_;
};

}  // namespace compass

#endif  // COMPASS_SHARD_COORDINATOR_H_
