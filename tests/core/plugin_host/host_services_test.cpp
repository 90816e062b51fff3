#include "plugin_host/host_services.h"

#include <gtest/gtest.h>

#include <compass/plugin.hpp>

namespace compass {
namespace {

TEST(HostServices, StatusRoundTripKeepsCodeAndMessage) {
  compass_status* s = ToAbiStatus(NotFound("tensor model.norm.weight missing"));
  ASSERT_NE(s, nullptr);
  Status back = FromAbiStatus(s);
  EXPECT_EQ(back.code(), COMPASS_NOT_FOUND);
  EXPECT_EQ(back.message(), "tensor model.norm.weight missing");
  EXPECT_EQ(ToAbiStatus(Status::Ok()), nullptr);
  EXPECT_TRUE(FromAbiStatus(nullptr).ok());
}

TEST(HostServices, OutOfRangeCodeBecomesInternal) {
  PluginHost host;
  const compass_host_api* api = host.ServicesFor("x");
  Status s = FromAbiStatus(api->status_new(9999, sdk::str("weird")));
  EXPECT_EQ(s.code(), COMPASS_INTERNAL);
  EXPECT_EQ(s.message(), "weird");
}

TEST(HostServices, CancellationIsVisibleToPlugins) {
  PluginHost host;
  const compass_host_api* api = host.ServicesFor("x");
  EXPECT_EQ(api->is_cancelled(api->ctx), 0);
  host.RequestCancel();
  EXPECT_EQ(api->is_cancelled(api->ctx), 1);
  EXPECT_THROW(sdk::Host(api).check_cancelled(), sdk::Error);
}

TEST(HostServices, ProgressReachesTheCallback) {
  PluginHost host;
  const compass_host_api* api = host.ServicesFor("x");
  uint64_t seen = 0;
  host.SetProgress([&](uint64_t done, uint64_t, uint64_t) { seen = done; });
  api->progress(api->ctx, 7, 10, 100);
  EXPECT_EQ(seen, 7u);
}

}  // namespace
}  // namespace compass
