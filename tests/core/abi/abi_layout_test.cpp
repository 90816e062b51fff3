// Pins the layout of the ABI on LP64 platforms: a change here is an ABI break
// unless it only appends fields at the end of a struct.
#include <compass/plugin.h>
#include <gtest/gtest.h>

#include <cstddef>

extern "C" uint64_t compass_test_c_table_size(void);

static_assert(sizeof(void*) == 8, "layout checks assume LP64");
static_assert(offsetof(compass_abi_header, abi_major) == 0);
static_assert(offsetof(compass_abi_header, abi_minor) == 4);
static_assert(offsetof(compass_abi_header, struct_size) == 8);
static_assert(sizeof(compass_abi_header) == 16);
static_assert(sizeof(compass_str) == 16);
static_assert(offsetof(compass_backend_api, info) == 16);
static_assert(offsetof(compass_backend_api, options) == 64);
static_assert(offsetof(compass_backend_api, create) == 80);
static_assert(offsetof(compass_backend_api, figures) == 80 + 7 * 8);
static_assert(offsetof(compass_dataset_api, create) == 96);
static_assert(offsetof(compass_scorer_api, create) == 80);
static_assert(offsetof(compass_host_api, ctx) == 16);
static_assert(offsetof(compass_host_api, detokenize) == 24 + 8 * 7);
static_assert(offsetof(compass_loglikelihood_request, continuation) == 24);
static_assert(offsetof(compass_backend_config, vocab_size) == 104);

TEST(AbiLayout, CAndCxxAgreeOnTableSizes) {
  EXPECT_EQ(compass_test_c_table_size(), sizeof(compass_backend_api));
}

TEST(AbiLayout, HasFieldMacro) {
  EXPECT_TRUE(COMPASS_HAS_FIELD(compass_item, sizeof(compass_item), doc_json));
  EXPECT_FALSE(COMPASS_HAS_FIELD(compass_item, offsetof(compass_item, doc_json), doc_json));
}
