#include "shard/coordinator.h"

#include <nlohmann/json.hpp>

#include <chrono>

namespace compass {
namespace {

double Now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

std::string Seconds(double s) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.0f", s);
  return buf;
}

}  // namespace

Coordinator::Coordinator(std::unique_ptr<KeyValueStore> store, CoordinatorOptions options,
                         StopCallback on_stop)
    : store_(std::move(store)),
      options_(std::move(options)),
      on_stop_(std::move(on_stop)),
      last_beat_(options_.world, -1),
      last_moved_(options_.world, 0),
      rank_done_(options_.world, false) {
  thread_ = std::thread([this] { Loop(); });
}

Coordinator::~Coordinator() {
  if (options_.rank == 0) LingerAfterStop();
  {
    std::lock_guard<std::mutex> lock(mu_);
    quit_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Coordinator::LingerAfterStop() {
  const double until = Now() + options_.timeout_seconds;
  while (Now() < until) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!stop_reason_ || !joined_) return;
      bool waiting = false;
      for (uint32_t r = 1; r < options_.world && !waiting; ++r) {
        if (rank_done_[r]) continue;
        auto ack = store_->Get(Key("stopped", r));
        auto done = store_->Get(Key("done", r));
        if (!ack.ok() || !done.ok()) return;  // the store itself is gone
        const bool dead = Now() - last_moved_[r] >= options_.timeout_seconds;
        waiting = !ack->has_value() && !done->has_value() && !dead;
      }
      if (!waiting) return;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

std::optional<std::string> Coordinator::stop_reason() const {
  std::lock_guard<std::mutex> lock(mu_);
  return stop_reason_;
}

std::optional<std::string> Coordinator::WaitForStop(double seconds) {
  std::unique_lock<std::mutex> lock(mu_);
  wake_.wait_for(lock, std::chrono::duration<double>(seconds),
                 [&] { return stop_reason_.has_value(); });
  return stop_reason_;
}

void Coordinator::SetProgress(uint64_t done, uint64_t total) {
  std::lock_guard<std::mutex> lock(mu_);
  progress_done_ = done;
  progress_total_ = total;
}

void Coordinator::SetRole(const std::string& role) {
  std::lock_guard<std::mutex> lock(mu_);
  role_ = role;
}

std::string Coordinator::Describe(uint32_t rank) {
  std::string out = "rank " + std::to_string(rank);
  auto hb = store_->Get(Key("hb", rank));
  if (hb.ok() && hb->has_value()) {
    const auto j = nlohmann::json::parse(**hb, nullptr, false);
    if (j.is_object()) {
      const std::string role = j.value("role", std::string());
      out += " (host " + j.value("host", std::string("?")) + ", pid " +
             std::to_string(j.value("pid", int64_t{0})) + ", " +
             (role.empty() ? std::to_string(j.value("done", uint64_t{0})) + " of " +
                                 std::to_string(j.value("total", uint64_t{0})) + " requests stored"
                           : role) +
             ")";
    }
  }
  return out;
}

void Coordinator::Fire(const std::string& reason, bool publish) {
  // mu_ held.
  if (stop_reason_) return;
  stop_reason_ = reason;
  if (publish) (void)store_->Set(Key("stop"), reason);
  if (options_.rank != 0) (void)store_->Set(Key("stopped", options_.rank), "1");
  if (on_stop_) on_stop_(reason);
  wake_.notify_all();
}

void Coordinator::Stop(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  Fire(reason, true);
}

void Coordinator::Beat() {
  // mu_ held.
  const double now = Now();
  auto failed = [&](const Status& s) {
    if (failing_since_ < 0) failing_since_ = now;
    if (now - failing_since_ >= options_.timeout_seconds) {
      Fire("lost the rendezvous for " + Seconds(now - failing_since_) + " s (" + s.message() +
               "): " + rank0_ +
               ", which serves it, or the shared file system is gone; every "
               "answer stored is kept, and the same command launched again resumes",
           false);
    }
  };
  const std::string heartbeat = nlohmann::json{
      {"host", options_.host},
      {"pid", options_.pid},
      {"done", progress_done_},
      {"total", progress_total_},
      {"role", role_}}.dump();
  if (heartbeat != last_heartbeat_) {
    if (Status s = store_->Set(Key("hb", options_.rank), heartbeat); !s.ok()) return failed(s);
    last_heartbeat_ = heartbeat;
  }
  if (auto s = store_->Add(Key("beat", options_.rank), 1); !s.ok()) return failed(s.status());
  auto stop = store_->Get(Key("stop"));
  if (!stop.ok()) return failed(stop.status());
  failing_since_ = -1;
  if (stop->has_value()) return Fire(**stop, false);
  if (!joined_) return;
  for (uint32_t r = 0; r < options_.world; ++r) {
    if (r == options_.rank || rank_done_[r]) continue;
    auto done = store_->Get(Key("done", r));
    if (!done.ok()) return failed(done.status());
    if (done->has_value()) {
      rank_done_[r] = true;
      continue;
    }
    auto beat = store_->Add(Key("beat", r), 0);
    if (!beat.ok()) return failed(beat.status());
    if (*beat != last_beat_[r]) {
      last_beat_[r] = *beat;
      last_moved_[r] = now;
    } else if (now - last_moved_[r] >= options_.timeout_seconds) {
      return Fire(Describe(r) + " stopped: no heartbeat for " + Seconds(now - last_moved_[r]) +
                      " s (--shard-timeout " + Seconds(options_.timeout_seconds) +
                      "); the launch stops, every answer stored is kept, and the same command "
                      "launched again resumes, computing only what is missing",
                  true);
    }
  }
}

void Coordinator::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (!quit_) {
    if (!done_) Beat();
    wake_.wait_for(lock, std::chrono::duration<double>(options_.heartbeat_seconds),
                   [this] { return quit_; });
  }
}

StatusOr<std::string> Coordinator::Join(const std::string& proposed) {
  const double start = Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    COMPASS_RETURN_IF_ERROR(
        store_->Set(Key("join", options_.rank),
                    nlohmann::json{{"host", options_.host}, {"pid", options_.pid}}.dump()));
    if (options_.rank == 0) COMPASS_RETURN_IF_ERROR(store_->Set(Key("launch"), proposed));
  }
  while (true) {
    std::string missing;
    std::optional<std::string> launch;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_reason_) return InvalidArgument(*stop_reason_);
      for (uint32_t r = 0; r < options_.world; ++r) {
        COMPASS_ASSIGN_OR_RETURN(auto joined, store_->Get(Key("join", r)));
        if (!joined) missing += (missing.empty() ? "" : ", ") + std::to_string(r);
      }
      COMPASS_ASSIGN_OR_RETURN(launch, store_->Get(Key("launch")));
      if (missing.empty() && launch) {
        joined_ = true;
        COMPASS_ASSIGN_OR_RETURN(auto zero, store_->Get(Key("join", 0)));
        const auto j = nlohmann::json::parse(zero.value_or(""), nullptr, false);
        if (j.is_object()) {
          rank0_ = "rank 0 (host " + j.value("host", std::string("?")) + ", pid " +
                   std::to_string(j.value("pid", int64_t{0})) + ")";
        }
        const double now = Now();
        for (double& t : last_moved_) t = now;
        return *launch;
      }
    }
    if (Now() - start >= options_.join_timeout_seconds) {
      return InvalidArgument("rank(s) " + (missing.empty() ? std::string("0") : missing) + " of " +
                             std::to_string(options_.world) + " did not join within " +
                             Seconds(options_.join_timeout_seconds) +
                             " s (--shard-join-timeout): were all processes launched, with the "
                             "same run folder and rendezvous?");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

Status Coordinator::MarkDone(const std::string& summary) {
  std::lock_guard<std::mutex> lock(mu_);
  if (stop_reason_) return Cancelled(*stop_reason_);
  COMPASS_RETURN_IF_ERROR(store_->Set(Key("done", options_.rank), summary));
  done_ = options_.rank != 0;  // rank 0 keeps watching until all are done
  return Status::Ok();
}

StatusOr<std::vector<std::string>> Coordinator::WaitForAll() {
  std::vector<std::string> summaries(options_.world);
  std::vector<bool> have(options_.world, false);
  while (true) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (stop_reason_) return Cancelled(*stop_reason_);
      bool all = true;
      for (uint32_t r = 0; r < options_.world; ++r) {
        if (have[r]) continue;
        COMPASS_ASSIGN_OR_RETURN(auto done, store_->Get(Key("done", r)));
        if (done) {
          summaries[r] = *done;
          have[r] = true;
        } else {
          all = false;
        }
      }
      if (all) return summaries;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
}

}  // namespace compass
