// The real PAL: its system-call counts, remap and clock, and the peak RSS
// it reads; FakePal's clock and remap.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <time.h>

#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>

#include "allocator/pal/fake_pal.h"
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

// populate: every page resident after one call (one madvise counted); a
// refusal says so and leaves errno as it was (a malloc that succeeds must
// not change it).
TEST(LinuxPal, PopulateFaultsPagesInWithOneCallAndARefusalKeepsErrno) {
  LinuxPal pal;
  constexpr size_t kPages = 16;
  void* p = pal.map(kPages * kPageSize, kPageSize);
  ASSERT_NE(p, nullptr);
  unsigned char resident[kPages];
  ASSERT_EQ(mincore(p, kPages * kPageSize, resident), 0);
  for (unsigned char r : resident) ASSERT_EQ(r & 1, 0) << "fresh pages are not resident";
  ASSERT_TRUE(pal.populate(p, kPages * kPageSize)) << "MADV_POPULATE_WRITE needs Linux 5.14";
  EXPECT_EQ(pal.syscalls().madvise, 1u);
  ASSERT_EQ(mincore(p, kPages * kPageSize, resident), 0);
  for (unsigned char r : resident) EXPECT_EQ(r & 1, 1) << "every page faulted in";
  ASSERT_TRUE(pal.unmap(p, kPages * kPageSize));
  errno = 4321;
  EXPECT_FALSE(pal.populate(p, kPages * kPageSize)) << "nothing is mapped there now";
  EXPECT_EQ(errno, 4321);
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

// Pal::remap never moves a mapping: it shrinks in place, grows in place
// into free pages after it, and says no (the mapping unchanged) when the
// pages after it are taken.
TEST(LinuxPal, RemapResizesInPlaceOrRefuses) {
  LinuxPal pal;
  constexpr size_t kRegion = 16 * kPageSize;
  auto* base = static_cast<char*>(pal.map(kRegion, kPageSize));
  ASSERT_NE(base, nullptr);
  // Free the back half, so the front quarter can grow into it but not past it.
  ASSERT_TRUE(pal.unmap(base + kRegion / 2, kRegion / 2));
  ASSERT_TRUE(pal.unmap(base + kRegion / 4, kRegion / 4));
  base[0] = 7;
  EXPECT_TRUE(pal.remap(base, kRegion / 4, kRegion / 2));
  base[kRegion / 2 - 1] = 9;  // the grown pages are mapped and writable
  EXPECT_EQ(base[0], 7);
  // The page after the mapping is taken now: growing cannot stay in place.
  auto* blocker = static_cast<char*>(mmap(base + kRegion / 2, kPageSize, PROT_READ | PROT_WRITE,
                                          MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0));
  ASSERT_EQ(blocker, base + kRegion / 2);
  EXPECT_FALSE(pal.remap(base, kRegion / 2, kRegion));
  EXPECT_EQ(base[kRegion / 2 - 1], 9);  // still mapped, unchanged
  EXPECT_TRUE(pal.remap(base, kRegion / 2, kPageSize));  // shrinking always can
  EXPECT_EQ(base[0], 7);
  EXPECT_EQ(pal.syscalls().mremap, 3u);
  EXPECT_EQ(pal.syscalls().failed_mremap, 1u);
  EXPECT_TRUE(pal.unmap(base, kPageSize));
  munmap(blocker, kPageSize);
}

TEST(LinuxPal, TheClockIsMonotonicMilliseconds) {
  LinuxPal pal;
  const uint64_t before = pal.now_ms();
  timespec pause{0, 20'000'000};
  nanosleep(&pause, nullptr);
  const uint64_t after = pal.now_ms();
  // The coarse clock lags the true time by up to its resolution (a tick).
  timespec resolution{};
  clock_getres(CLOCK_MONOTONIC_COARSE, &resolution);
  const auto tick_ms = static_cast<uint64_t>(resolution.tv_nsec / 1'000'000 + 1);
  EXPECT_GE(after - before + tick_ms, 20u);
  EXPECT_LT(after - before, 60'000u) << "milliseconds, not microseconds";
}

TEST(FakePal, TheClockMovesOnlyWhenTold) {
  FakePal pal;
  EXPECT_EQ(pal.now_ms(), 0u);
  pal.advance_ms(250);
  EXPECT_EQ(pal.now_ms(), 250u);
}

TEST(FakePal, RemapsCountAndCanBeRefused) {
  FakePal pal;
  auto* p = static_cast<char*>(pal.map(4 * kPageSize, kPageSize));
  ASSERT_NE(p, nullptr);
  EXPECT_TRUE(pal.remap(p, 4 * kPageSize, kPageSize));
  EXPECT_EQ(pal.mapped_bytes(), static_cast<int64_t>(kPageSize));
  pal.fail_next_remaps(1);
  EXPECT_FALSE(pal.remap(p, kPageSize, 2 * kPageSize));
  EXPECT_EQ(pal.remaps(), 1);
  EXPECT_EQ(pal.failed_remaps(), 1);
  EXPECT_EQ(pal.mapped_bytes(), static_cast<int64_t>(kPageSize));
  EXPECT_TRUE(pal.unmap(p, kPageSize));
}

TEST(ProcessStatus, MinorFaultsCountPagesThisProcessTouched) {
  constexpr size_t kPages = 256;
  void* p = os_pal().map(kPages * kPageSize, kPageSize);
  ASSERT_NE(p, nullptr);
  const int64_t before = minor_faults();
  ASSERT_GE(before, 0);
  memset(p, 1, kPages * kPageSize);
  const int64_t after = minor_faults();
  ASSERT_TRUE(os_pal().unmap(p, kPages * kPageSize));
  EXPECT_GE(after - before, static_cast<int64_t>(kPages) / 2) << "fault-around or THP may merge some";
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
