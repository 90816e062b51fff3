// Launch detection: torchrun, Open MPI and Slurm variables, precedence, and
// inconsistent values refused naming the variable.
#include "shard/launch.h"

#include <gtest/gtest.h>

#include <map>
#include <string>

namespace compass {
namespace {

StatusOr<LaunchInfo> Detect(const std::map<std::string, std::string>& env) {
  return DetectLaunch([&](const char* name) -> const char* {
    auto it = env.find(name);
    return it == env.end() ? nullptr : it->second.c_str();
  });
}

TEST(DetectLaunch, NoLauncherIsAWorldOfOne) {
  auto info = Detect({});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->launcher, "");
  EXPECT_EQ(info->world, 1u);
  EXPECT_FALSE(info->sharded());
}

TEST(DetectLaunch, Torchrun) {
  auto info = Detect({{"RANK", "3"},
                      {"WORLD_SIZE", "8"},
                      {"LOCAL_RANK", "1"},
                      {"MASTER_ADDR", "node7"},
                      {"MASTER_PORT", "29500"}});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->launcher, "torchrun");
  EXPECT_EQ(info->rank, 3u);
  EXPECT_EQ(info->world, 8u);
  EXPECT_EQ(info->local_rank, 1u);
  EXPECT_EQ(info->master_addr, "node7");
  EXPECT_EQ(info->master_port, 29500);
  EXPECT_TRUE(info->sharded());
  EXPECT_EQ(info->Describe(), "rank 3 of 8 (local rank 1, launched by torchrun)");
}

TEST(DetectLaunch, OpenMpiWithItsJobId) {
  auto info = Detect({{"OMPI_COMM_WORLD_RANK", "1"},
                      {"OMPI_COMM_WORLD_SIZE", "4"},
                      {"OMPI_COMM_WORLD_LOCAL_RANK", "1"},
                      {"OMPI_MCA_ess_base_jobid", "172294145"}});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->launcher, "mpi");
  EXPECT_EQ(info->rank, 1u);
  EXPECT_EQ(info->world, 4u);
  EXPECT_EQ(info->launch_id, "172294145");
  EXPECT_TRUE(info->master_addr.empty());
}

TEST(DetectLaunch, SlurmWithJobStepAndNodes) {
  auto info = Detect({{"SLURM_PROCID", "2"},
                      {"SLURM_NTASKS", "4"},
                      {"SLURM_LOCALID", "0"},
                      {"SLURM_JOB_ID", "77"},
                      {"SLURM_STEP_ID", "0"},
                      {"SLURM_STEP_NODELIST", "gpu[01-02]"}});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->launcher, "slurm");
  EXPECT_EQ(info->rank, 2u);
  EXPECT_EQ(info->world, 4u);
  EXPECT_EQ(info->launch_id, "slurm77.0");
  EXPECT_EQ(info->nodes, "gpu[01-02]");
}

TEST(DetectLaunch, TorchrunVariablesWinOverSlurmAndTheLaunchIdOverride) {
  auto info = Detect({{"RANK", "0"},
                      {"WORLD_SIZE", "2"},
                      {"SLURM_PROCID", "5"},
                      {"SLURM_NTASKS", "8"},
                      {"COMPASS_LAUNCH_ID", "mine"}});
  ASSERT_TRUE(info.ok()) << info.status().ToString();
  EXPECT_EQ(info->launcher, "torchrun");
  EXPECT_EQ(info->world, 2u);
  EXPECT_EQ(info->launch_id, "mine");
}

void ExpectRefused(const std::map<std::string, std::string>& env, const std::string& needle) {
  auto info = Detect(env);
  ASSERT_FALSE(info.ok()) << "accepted " << needle;
  EXPECT_EQ(info.status().code(), COMPASS_INVALID_ARGUMENT);
  EXPECT_NE(info.status().message().find(needle), std::string::npos) << info.status().message();
}

TEST(DetectLaunch, InconsistentValuesNameTheVariable) {
  ExpectRefused({{"RANK", "4"}, {"WORLD_SIZE", "4"}}, "RANK=4 is not below WORLD_SIZE=4");
  ExpectRefused({{"RANK", "x"}, {"WORLD_SIZE", "4"}}, "RANK='x' is not a whole number");
  ExpectRefused({{"RANK", "0"}}, "WORLD_SIZE='' is not a whole number");
  ExpectRefused({{"RANK", "0"}, {"WORLD_SIZE", "0"}}, "WORLD_SIZE=0");
  ExpectRefused({{"RANK", "-1"}, {"WORLD_SIZE", "2"}}, "RANK='-1'");
  ExpectRefused({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"LOCAL_RANK", "2.5"}}, "LOCAL_RANK='2.5'");
  ExpectRefused({{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}},
                "MASTER_ADDR but not MASTER_PORT");
  ExpectRefused(
      {{"RANK", "1"}, {"WORLD_SIZE", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}},
      "MASTER_PORT='70000'");
  ExpectRefused({{"OMPI_COMM_WORLD_RANK", "9"}, {"OMPI_COMM_WORLD_SIZE", "4"}},
                "OMPI_COMM_WORLD_RANK=9 is not below OMPI_COMM_WORLD_SIZE=4");
  ExpectRefused({{"SLURM_PROCID", "1"}, {"SLURM_NTASKS", "two"}}, "SLURM_NTASKS='two'");
}

}  // namespace
}  // namespace compass
