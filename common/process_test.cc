// The /proc readers that tests of the allocator's limits rely on.
#include "common/process.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

namespace lab {
namespace {

TEST(Process, OvercommitModeIsOneOfTheKernels) {
  const auto mode = overcommit_mode();
  ASSERT_TRUE(mode.has_value()) << "/proc/sys/vm/overcommit_memory unreadable";
  EXPECT_TRUE(*mode == 0 || *mode == 1 || *mode == 2) << *mode;
}

TEST(Process, MemoryAndSwapCoverTheResidentSet) {
  const auto total = memory_and_swap_bytes();
  ASSERT_TRUE(total.has_value());
  const auto rss = current_rss_bytes();
  ASSERT_TRUE(rss.has_value());
  EXPECT_GT(*total, *rss);
}

TEST(Process, MappingsSeeANewMappingComeAndGo) {
  const size_t size = size_t{64} << 20;
  const auto before = current_mappings();
  ASSERT_TRUE(before.has_value());
  EXPECT_GT(before->count, 0);
  void* p = mmap(nullptr, size, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  ASSERT_NE(p, MAP_FAILED);
  const auto during = current_mappings();
  munmap(p, size);
  const auto after = current_mappings();
  ASSERT_TRUE(during.has_value() && after.has_value());
  // Other threads (none here) could map too; this one mapping is at least
  // its size, whether or not the kernel merged it with a neighbour.
  EXPECT_GE(during->bytes - before->bytes, static_cast<int64_t>(size));
  EXPECT_GE(during->bytes - after->bytes, static_cast<int64_t>(size));
}

}  // namespace
}  // namespace lab
