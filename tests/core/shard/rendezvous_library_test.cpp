// The rendezvous library over libtorch's c10d stores, loaded as compass
// loads it: a FileStore and a TCPStore on loopback (server and client) set,
// get and add; a missing library is NotFound naming where it looked.
#include "shard/rendezvous_library.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include "test_files.h"

namespace compass {
namespace {

void Exercise(KeyValueStore& a, KeyValueStore& b) {
  ASSERT_TRUE(a.Set("k", "value").ok());
  auto v = b.Get("k");
  ASSERT_TRUE(v.ok()) << v.status().ToString();
  ASSERT_TRUE(v->has_value());
  EXPECT_EQ(**v, "value");
  auto missing = b.Get("nothing");
  ASSERT_TRUE(missing.ok());
  EXPECT_FALSE(missing->has_value());
  EXPECT_EQ(*a.Add("n", 2), 2);
  EXPECT_EQ(*b.Add("n", 0), 2);
  const std::string big(5000, 'x');
  ASSERT_TRUE(b.Set("big", big).ok());
  EXPECT_EQ(**a.Get("big"), big);
}

TEST(RendezvousLibrary, FileStore) {
  setenv("COMPASS_RENDEZVOUS_LIBRARY", COMPASS_RENDEZVOUS_PATH, 1);
  const auto dir = compass::testing::TempDir("rendezvous", "file");
  RendezvousAddress address;
  address.file = (dir / "store").string();
  address.world = 2;
  auto a = OpenRendezvous(address);
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  auto b = OpenRendezvous(address);
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Exercise(**a, **b);
}

TEST(RendezvousLibrary, TcpStoreOnLoopback) {
  setenv("COMPASS_RENDEZVOUS_LIBRARY", COMPASS_RENDEZVOUS_PATH, 1);
  RendezvousAddress address;
  address.host = "127.0.0.1";
  address.port = static_cast<uint16_t>(29000 + getpid() % 2000);
  address.world = 2;
  address.is_server = true;
  address.connect_timeout_seconds = 10;
  auto server = OpenRendezvous(address);
  ASSERT_TRUE(server.ok()) << server.status().ToString();
  address.is_server = false;
  auto client = OpenRendezvous(address);
  ASSERT_TRUE(client.ok()) << client.status().ToString();
  Exercise(**server, **client);
}

TEST(RendezvousLibrary, AMissingLibraryIsNotFoundNamingThePath) {
  // The library is loaded once per process: this test runs in its own
  // process under ctest; run alone, the path is checked before loading.
  if (std::getenv("COMPASS_RENDEZVOUS_LIBRARY") != nullptr) GTEST_SKIP() << "already loaded";
  setenv("COMPASS_RENDEZVOUS_LIBRARY", "/nonexistent/libcompass_rendezvous.so", 1);
  auto store = OpenRendezvous({});
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), COMPASS_NOT_FOUND);
  EXPECT_NE(store.status().message().find("/nonexistent/libcompass_rendezvous.so"),
            std::string::npos);
}

}  // namespace
}  // namespace compass
