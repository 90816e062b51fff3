// The coordinator of a sharded launch on an in-memory store: every rank
// joins and agrees on rank 0's launch id; rank 0 gets every summary; a rank
// that dies (stops beating before it is done) stops every other rank within
// the timeout with a reason naming it, its host and pid; a missing rank
// fails the join naming it; a store that keeps failing stops the rank.
#include "shard/coordinator.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <map>
#include <mutex>
#include <thread>

namespace compass {
namespace {

using Clock = std::chrono::steady_clock;

struct SharedMap {
  std::mutex mu;
  std::map<std::string, std::string> values;
  std::atomic<bool> broken{false};
};

class MemoryStore : public KeyValueStore {
 public:
  explicit MemoryStore(std::shared_ptr<SharedMap> map) : map_(std::move(map)) {}
  Status Set(const std::string& key, const std::string& value) override {
    if (map_->broken) return IoError("connection refused");
    std::lock_guard<std::mutex> lock(map_->mu);
    map_->values[key] = value;
    return Status::Ok();
  }
  StatusOr<std::optional<std::string>> Get(const std::string& key) override {
    if (map_->broken) return IoError("connection refused");
    std::lock_guard<std::mutex> lock(map_->mu);
    auto it = map_->values.find(key);
    if (it == map_->values.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  StatusOr<int64_t> Add(const std::string& key, int64_t delta) override {
    if (map_->broken) return IoError("connection refused");
    std::lock_guard<std::mutex> lock(map_->mu);
    std::string& v = map_->values[key];
    const int64_t n = (v.empty() ? 0 : std::stoll(v)) + delta;
    v = std::to_string(n);
    return n;
  }

 private:
  std::shared_ptr<SharedMap> map_;
};

struct Rank {
  std::unique_ptr<Coordinator> coordinator;
  std::mutex mu;
  std::string reason;
  Clock::time_point stopped_at{};
};

CoordinatorOptions Options(uint32_t rank, uint32_t world) {
  CoordinatorOptions o;
  o.rank = rank;
  o.world = world;
  o.host = "h" + std::to_string(rank);
  o.pid = 100 + rank;
  o.heartbeat_seconds = 0.05;
  o.timeout_seconds = 0.6;
  o.join_timeout_seconds = 1;
  return o;
}

std::vector<std::unique_ptr<Rank>> Launch(const std::shared_ptr<SharedMap>& map, uint32_t world) {
  std::vector<std::unique_ptr<Rank>> ranks;
  for (uint32_t r = 0; r < world; ++r) {
    auto rank = std::make_unique<Rank>();
    Rank* raw = rank.get();
    rank->coordinator = std::make_unique<Coordinator>(
        std::make_unique<MemoryStore>(map), Options(r, world), [raw](const std::string& why) {
          std::lock_guard<std::mutex> lock(raw->mu);
          raw->reason = why;
          raw->stopped_at = Clock::now();
        });
    ranks.push_back(std::move(rank));
  }
  return ranks;
}

// Every rank joins from its own thread; returns the ids they got.
std::vector<std::string> JoinAll(std::vector<std::unique_ptr<Rank>>& ranks) {
  std::vector<std::string> ids(ranks.size());
  std::vector<std::thread> threads;
  for (size_t r = 0; r < ranks.size(); ++r) {
    threads.emplace_back([&, r] {
      auto id = ranks[r]->coordinator->Join("launch-of-" + std::to_string(r));
      ids[r] = id.ok() ? *id : "error: " + id.status().message();
    });
  }
  for (auto& t : threads) t.join();
  return ids;
}

TEST(Coordinator, RanksJoinAgreeOnRankZerosLaunchAndFinishTogether) {
  auto map = std::make_shared<SharedMap>();
  auto ranks = Launch(map, 3);
  for (const std::string& id : JoinAll(ranks)) EXPECT_EQ(id, "launch-of-0");
  ASSERT_TRUE(ranks[1]->coordinator->MarkDone("one").ok());
  ASSERT_TRUE(ranks[2]->coordinator->MarkDone("two").ok());
  // Done ranks stop beating and go away: that is no death.
  ranks[1].reset();
  ranks[2].reset();
  std::this_thread::sleep_for(std::chrono::milliseconds(900));
  ASSERT_TRUE(ranks[0]->coordinator->MarkDone("zero").ok());
  auto all = ranks[0]->coordinator->WaitForAll();
  ASSERT_TRUE(all.ok()) << all.status().ToString();
  EXPECT_EQ(*all, (std::vector<std::string>{"zero", "one", "two"}));
  EXPECT_FALSE(ranks[0]->coordinator->stop_reason().has_value());
}

TEST(Coordinator, ADeadRankStopsEveryOtherWithinTheTimeoutNamingIt) {
  auto map = std::make_shared<SharedMap>();
  auto ranks = Launch(map, 4);
  for (const std::string& id : JoinAll(ranks)) ASSERT_EQ(id, "launch-of-0");
  ranks[2]->coordinator->SetProgress(3, 10);
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  const auto died = Clock::now();
  ranks[2].reset();  // no more heartbeats, never done
  auto all = ranks[0]->coordinator->WaitForAll();
  ASSERT_FALSE(all.ok());
  EXPECT_NE(all.status().message().find("rank 2 (host h2, pid 102, 3 of 10 requests stored) "
                                        "stopped: no heartbeat"),
            std::string::npos)
      << all.status().message();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  for (uint32_t r : {0u, 1u, 3u}) {
    std::lock_guard<std::mutex> lock(ranks[r]->mu);
    EXPECT_NE(ranks[r]->reason.find("rank 2 (host h2"), std::string::npos) << r;
    EXPECT_NE(ranks[r]->reason.find("the same command launched again resumes"), std::string::npos);
    const double after = std::chrono::duration<double>(ranks[r]->stopped_at - died).count();
    EXPECT_GE(after, 0.5) << r;
    EXPECT_LT(after, 2.0) << r;
  }
}

TEST(Coordinator, AMissingRankFailsTheJoinNamingIt) {
  auto map = std::make_shared<SharedMap>();
  auto ranks = Launch(map, 3);
  ranks[1].reset();  // never joins
  const auto start = Clock::now();
  std::thread zero([&] { (void)ranks[0]->coordinator->Join("x"); });
  auto id = ranks[2]->coordinator->Join("x");
  zero.join();
  ASSERT_FALSE(id.ok());
  EXPECT_NE(id.status().message().find("rank(s) 1 of 3 did not join within 1 s"), std::string::npos)
      << id.status().message();
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 3.0);
}

TEST(Coordinator, AStoreThatKeepsFailingStopsTheRank) {
  auto map = std::make_shared<SharedMap>();
  auto ranks = Launch(map, 2);
  for (const std::string& id : JoinAll(ranks)) ASSERT_EQ(id, "launch-of-0");
  map->broken = true;
  std::this_thread::sleep_for(std::chrono::milliseconds(1200));
  auto reason = ranks[1]->coordinator->stop_reason();
  ASSERT_TRUE(reason.has_value());
  EXPECT_NE(reason->find("lost the rendezvous"), std::string::npos) << *reason;
  EXPECT_NE(reason->find("connection refused"), std::string::npos) << *reason;
}

}  // namespace
}  // namespace compass
