// The real PAL: its system-call counts and the peak RSS it reads.
#include <gtest/gtest.h>

#include <bit>
#include <cstdint>
#include <cstring>
#include <optional>

#include "allocator/pal/pal.h"
#include "allocator/pal/process_status.h"
#include "common/process.h"

namespace hakmem {
namespace {

TEST(LinuxPal, CountsEverySystemCall) {
  LinuxPal pal;
  // Page-aligned: one mmap. Over-aligned: one mmap and the trims (a head,
  // a tail or both), each one munmap.
  void* p = pal.map(kPageSize, kPageSize);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(pal.syscalls().mmap, 1u);
  EXPECT_EQ(pal.syscalls().munmap, 0u);
  void* q = pal.map(size_t{2} << 20, size_t{2} << 20);
  ASSERT_NE(q, nullptr);
  EXPECT_EQ(pal.syscalls().mmap, 2u);
  const uint64_t trims = pal.syscalls().munmap;
  EXPECT_GE(trims, 1u);
  EXPECT_LE(trims, 2u);
  pal.purge(q, kPageSize);
  EXPECT_EQ(pal.syscalls().madvise, 1u);
  EXPECT_TRUE(pal.unmap(p, kPageSize));
  EXPECT_TRUE(pal.unmap(q, size_t{2} << 20));
  EXPECT_EQ(pal.syscalls().munmap, trims + 2);
  EXPECT_EQ(pal.syscalls().failed_mmap, 0u);
  EXPECT_EQ(pal.syscalls().failed_munmap, 0u);
}

// Issue 11, defect 4: every map was MAP_NORESERVE, which skips the kernel's
// overcommit check, so hakmem mapped 64 GiB .. 64 TiB where glibc gets
// ENOMEM. map() is accounted now; map_unaccounted() keeps the reservation
// for sparse tables.
TEST(LinuxPal, MapHonoursTheOvercommitPolicyAndMapUnaccountedDoesNot) {
  const std::optional<int> mode = lab::overcommit_mode();
  ASSERT_TRUE(mode.has_value()) << "vm.overcommit_memory unreadable";
  if (*mode == 1) GTEST_SKIP() << "vm.overcommit_memory is 1: the kernel refuses no mapping";
  const std::optional<int64_t> ram_and_swap = lab::memory_and_swap_bytes();
  ASSERT_TRUE(ram_and_swap.has_value());
  LinuxPal pal;
  // The smallest power of two beyond RAM + swap: refused when accounted,
  // and small enough to find room under a sanitizer's own reservations.
  const size_t huge = std::bit_ceil(static_cast<size_t>(*ram_and_swap) + 1);
  EXPECT_EQ(pal.map(huge, kPageSize), nullptr);
  EXPECT_EQ(pal.map(huge, size_t{2} << 20), nullptr);
  EXPECT_EQ(pal.syscalls().failed_mmap, 2u);
  if (*mode == 0) {
    // The heuristic mode accounts nothing for MAP_NORESERVE.
    void* p = pal.map_unaccounted(huge, size_t{2} << 20);
    ASSERT_NE(p, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(p) % (size_t{2} << 20), 0u);
    static_cast<char*>(p)[12345] = 1;  // touched lazily: one page
    EXPECT_TRUE(pal.unmap(p, huge));
  }
}

TEST(LinuxPal, AFailedUnmapSaysSo) {
  LinuxPal pal;
  // munmap of an address that is not page-aligned is EINVAL.
  EXPECT_FALSE(pal.unmap(reinterpret_cast<void*>(uintptr_t{4096 + 8}), kPageSize));
  EXPECT_EQ(pal.syscalls().failed_munmap, 1u);
}

TEST(ProcessStatus, PeakRssCoversWhatThisProcessTouched) {
  constexpr size_t kBytes = size_t{32} << 20;
  void* p = os_pal().map(kBytes, kPageSize);
  ASSERT_NE(p, nullptr);
  memset(p, 1, kBytes);
  const int64_t peak = peak_rss_kib();
  os_pal().unmap(p, kBytes);
  EXPECT_GE(peak, static_cast<int64_t>(kBytes >> 10)) << "VmHWM in KiB";
}

}  // namespace
}  // namespace hakmem
