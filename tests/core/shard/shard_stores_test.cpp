// The stores of a sharded run folder: what any earlier launch stored counts
// (the current launch's own shards do not), a shard of another config is
// refused naming it, and merging copies every answer into results.sqlite
// and removes the shards.
#include "shard/shard_stores.h"

#include <gtest/gtest.h>

#include <filesystem>

#include "test_files.h"

namespace compass {
namespace {

namespace fs = std::filesystem;

RunMetadata Meta(const std::string& hash = "cfg") {
  RunMetadata m;
  m.config_hash = hash;
  m.backend = "hf_native";
  return m;
}

StoredResponse Response(const std::string& hash, double logprob) {
  StoredResponse r;
  r.hash = hash;
  r.kind = "loglikelihood";
  r.logprob = logprob;
  r.num_tokens = 2;
  r.token_logprobs = {-0.25f, static_cast<float>(logprob + 0.25)};
  return r;
}

void WriteShard(const fs::path& dir, const ShardName& name,
                const std::vector<StoredResponse>& responses, const std::string& hash = "cfg") {
  fs::create_directories(dir / kShardDir);
  auto store = ResultsStore::OpenFile((dir / kShardDir / ShardFileName(name)).string(), "", true);
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->BeginRun(Meta(hash), false).ok());
  for (const auto& r : responses) ASSERT_TRUE((*store)->PutResponse(r).ok());
}

TEST(ShardStores, EarlierLaunchesCountTheCurrentOneDoesNot) {
  const fs::path dir = compass::testing::TempDir("shard_stores", "earlier") / "run";
  WriteShard(dir, {"old", 0, 4}, {Response("a", -1)});
  WriteShard(dir, {"old", 3, 4}, {Response("b", -2)});
  WriteShard(dir, {"now", 1, 2}, {Response("c", -3)});
  auto listed = ListShardStores(dir.string());
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 3u);
  auto stored = StoredResponses(dir.string(), {"a", "b", "c", "d"}, "now", "cfg", "hf_native");
  ASSERT_TRUE(stored.ok()) << stored.status().ToString();
  EXPECT_EQ(stored->size(), 2u);
  EXPECT_EQ(stored->at("a").logprob, -1);
  EXPECT_EQ(stored->at("b").logprob, -2);
}

TEST(ShardStores, AShardOfAnotherConfigIsRefusedNamingIt) {
  const fs::path dir = compass::testing::TempDir("shard_stores", "other") / "run";
  WriteShard(dir, {"old", 0, 2}, {Response("a", -1)}, "another");
  auto stored = StoredResponses(dir.string(), {"a"}, "now", "cfg", "hf_native");
  ASSERT_FALSE(stored.ok());
  EXPECT_NE(stored.status().message().find("old-w2-r0.sqlite holds results of a different run"),
            std::string::npos)
      << stored.status().message();
}

TEST(ShardStores, MergeCopiesEveryAnswerExactlyAndRemovesTheShards) {
  const fs::path dir = compass::testing::TempDir("shard_stores", "merge") / "run";
  WriteShard(dir, {"l1", 0, 2}, {Response("a", -1.0000001), Response("b", -2)});
  WriteShard(dir, {"l1", 1, 2}, {Response("c", -3)});
  WriteShard(dir, {"l0", 0, 4}, {Response("a", -1.0000001)});  // the same answer again
  ASSERT_TRUE(WriteShardRunFile(dir.string(), "/x/eval.toml", "/x").ok());
  EXPECT_EQ(ReadShardBaseDir(dir.string()), "/x");
  auto merged = ResultsStore::Open(dir.string());
  ASSERT_TRUE(merged.ok());
  ASSERT_TRUE((*merged)->BeginRun(Meta(), false).ok());
  auto counts = MergeShardStores(dir.string(), **merged, "cfg", "hf_native");
  ASSERT_TRUE(counts.ok()) << counts.status().ToString();
  EXPECT_EQ(counts->shard_files, 3u);
  auto all = (*merged)->Responses({"a", "b", "c"});
  ASSERT_TRUE(all.ok());
  ASSERT_EQ(all->size(), 3u);
  EXPECT_EQ(all->at("a").logprob, -1.0000001);
  EXPECT_EQ(all->at("a").token_logprobs, Response("a", -1.0000001).token_logprobs);
  EXPECT_FALSE(fs::exists(dir / kShardDir));
  auto listed = ListShardStores(dir.string());
  ASSERT_TRUE(listed.ok());
  EXPECT_TRUE(listed->empty());
}

}  // namespace
}  // namespace compass
