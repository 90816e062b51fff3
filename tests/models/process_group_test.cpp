// The c10d process group on its own: ranks that are real processes (this
// test binary started again for each rank > 0) meeting on a FileStore or on
// a TCPStore served by rank 0, running the collectives every Communicator
// must get right and a ring of sends; a peer that dies ends the others'
// wait naming it; a peer that never comes ends the start naming the
// rendezvous.
#include "models/process_group.h"

#include <ATen/ATen.h>
#include <dirent.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <string>
#include <vector>

#include "collective_checks.h"

extern char** environ;

namespace compass::model {
namespace {

using Clock = std::chrono::steady_clock;

// Set in a child: which rank it is and where the group meets.
const char* Env(const char* name) {
  const char* v = std::getenv(name);
  return v != nullptr && *v != '\0' ? v : nullptr;
}

// Starts this binary again as rank `rank`, running only the current test.
pid_t SpawnRank(int64_t rank, int64_t size, const std::string& rendezvous) {
  const ::testing::TestInfo* info = ::testing::UnitTest::GetInstance()->current_test_info();
  const std::string filter =
      std::string("--gtest_filter=") + info->test_suite_name() + "." + info->name();
  std::vector<std::string> env = {"COMPASS_PG_RANK=" + std::to_string(rank),
                                  "COMPASS_PG_SIZE=" + std::to_string(size),
                                  "COMPASS_PG_RENDEZVOUS=" + rendezvous};
  for (char** e = environ; *e != nullptr; ++e) env.emplace_back(*e);
  std::vector<char*> envp;
  for (std::string& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  std::vector<char*> argv = {exe.data(), const_cast<char*>(filter.c_str()), nullptr};
  pid_t pid = 0;
  EXPECT_EQ(posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), envp.data()), 0);
  return pid;
}

int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

ProcessGroupOptions Options(int64_t rank, int64_t size, const std::string& rendezvous,
                            std::chrono::milliseconds timeout = std::chrono::seconds(60)) {
  ProcessGroupOptions o;
  o.rendezvous = rendezvous;
  o.name = "test-" + std::to_string(size);
  o.rank = rank;
  o.size = size;
  o.timeout = timeout;
  return o;
}

// What every rank runs: the collectives, then a ring of sends.
void CollectivesAndRing(ProcessCommunicator& comm) {
  const int64_t n = comm.size(), r = comm.rank();
  std::atomic<int> checks{0};
  CheckCollectives(comm, n, c10::kCPU, checks);
  EXPECT_EQ(checks.load(), 20 * 4);
  const int64_t next = (r + 1) % n, previous = (r + n - 1) % n;
  const at::Tensor mine = at::arange(6, at::kFloat).view({2, 3}) + 10 * r;
  const at::Tensor got = at::empty({2, 3}, at::kFloat);
  if (r == 0) {
    comm.Send(mine, next);
    comm.Recv(got, previous);
  } else {
    comm.Recv(got, previous);
    comm.Send(mine, next);
  }
  EXPECT_TRUE(at::equal(got, at::arange(6, at::kFloat).view({2, 3}) + 10 * previous));
  EXPECT_NE(comm.Describe(next).find("pid"), std::string::npos) << comm.Describe(next);
}

class ProcessGroupTest : public ::testing::TestWithParam<std::string> {
 protected:
  // The rendezvous of rank 0: a FileStore path, or a TCPStore it serves.
  std::string Rendezvous() {
    if (GetParam() == "file") {
      // mkdtemp and readdir, not std::filesystem: libtorch exports its own
      // copy of remove_all, which crashes when called from here.
      char dir[] = "/tmp/compass-pg-XXXXXX";
      if (::mkdtemp(dir) == nullptr) ADD_FAILURE() << "mkdtemp failed";
      dir_ = dir;
      return "file://" + dir_ + "/rdv";
    }
    c10d::TCPStoreOptions options;
    options.port = 0;
    options.isServer = true;
    options.waitWorkers = false;
    server_ = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", options);
    return "tcp://127.0.0.1:" + std::to_string(server_->getPort());
  }
  void TearDown() override {
    if (dir_.empty()) return;
    if (DIR* d = ::opendir(dir_.c_str())) {
      while (const dirent* e = ::readdir(d)) {
        if (e->d_name[0] != '.') ::unlink((dir_ + "/" + e->d_name).c_str());
      }
      ::closedir(d);
    }
    ::rmdir(dir_.c_str());
  }
  std::string dir_;
  c10::intrusive_ptr<c10d::TCPStore> server_;
};

TEST_P(ProcessGroupTest, CollectivesAndSendsBetweenProcesses) {
  if (const char* rank = Env("COMPASS_PG_RANK")) {  // a child
    auto comm = ProcessCommunicator::Connect(
        Options(std::atoi(rank), std::atoi(Env("COMPASS_PG_SIZE")), Env("COMPASS_PG_RENDEZVOUS")));
    ASSERT_TRUE(comm.ok()) << comm.status().message();
    CollectivesAndRing(**comm);
    return;
  }
  for (int64_t n : {2, 3}) {
    const std::string rendezvous = Rendezvous() + (GetParam() == "file" ? std::to_string(n) : "");
    std::vector<pid_t> children;
    for (int64_t r = 1; r < n; ++r) children.push_back(SpawnRank(r, n, rendezvous));
    {
      auto comm = ProcessCommunicator::Connect(Options(0, n, rendezvous));
      ASSERT_TRUE(comm.ok()) << comm.status().message();
      EXPECT_EQ((*comm)->size(), n);
      CollectivesAndRing(**comm);
    }
    for (size_t k = 0; k < children.size(); ++k) {
      EXPECT_EQ(WaitExit(children[k]), 0) << "rank " << k + 1 << " of " << n;
    }
  }
}

TEST_P(ProcessGroupTest, APeerThatDiesEndsTheWaitNamingIt) {
  if (const char* rank = Env("COMPASS_PG_RANK")) {  // a child: meets the group, then dies
    auto comm = ProcessCommunicator::Connect(
        Options(std::atoi(rank), std::atoi(Env("COMPASS_PG_SIZE")), Env("COMPASS_PG_RENDEZVOUS")));
    ASSERT_TRUE(comm.ok()) << comm.status().message();
    std::_Exit(3);
  }
  const std::string rendezvous = Rendezvous();
  const pid_t child = SpawnRank(1, 2, rendezvous);
  auto comm = ProcessCommunicator::Connect(Options(0, 2, rendezvous));
  ASSERT_TRUE(comm.ok()) << comm.status().message();
  EXPECT_EQ(WaitExit(child), 3);
  const auto start = Clock::now();
  try {
    (*comm)->AllReduceSum(at::ones({4}));
    ADD_FAILURE() << "an all_reduce with a dead peer returned";
  } catch (const CollectiveError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("rank 1 (host "), std::string::npos) << what;
    EXPECT_NE(what.find("pid " + std::to_string(child)), std::string::npos) << what;
  }
  // The connection closed: no wait for the 60 s timeout.
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 30);
}

TEST_P(ProcessGroupTest, APeerThatNeverComesEndsTheStartNamingTheRendezvous) {
  const std::string rendezvous = Rendezvous();
  const auto start = Clock::now();
  auto comm = ProcessCommunicator::Connect(Options(0, 2, rendezvous, std::chrono::seconds(2)));
  ASSERT_FALSE(comm.ok());
  EXPECT_NE(comm.status().message().find("could not meet the others at " + rendezvous),
            std::string::npos)
      << comm.status().message();
  EXPECT_LT(std::chrono::duration<double>(Clock::now() - start).count(), 30);
}

TEST(ProcessGroup, MalformedRendezvousOrRankIsRefused) {
  for (const std::string bad : {"tcp://nohost", "tcp://h:0", "udp://h:1", "file://"}) {
    auto comm = ProcessCommunicator::Connect(Options(0, 1, bad));
    ASSERT_FALSE(comm.ok()) << bad;
    EXPECT_NE(comm.status().message().find(bad), std::string::npos) << comm.status().message();
  }
  auto comm = ProcessCommunicator::Connect(Options(2, 2, "file:///tmp/x"));
  ASSERT_FALSE(comm.ok());
  EXPECT_NE(comm.status().message().find("rank 2 outside a group of 2"), std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(Stores, ProcessGroupTest, ::testing::Values("file", "tcp"));

}  // namespace
}  // namespace compass::model
