// The real PAL: its system-call counts and the peak RSS it reads.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>

#include "allocator/pal/pal.h"
#include "allocator/pal/process_status.h"

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
  pal.unmap(p, kPageSize);
  pal.unmap(q, size_t{2} << 20);
  EXPECT_EQ(pal.syscalls().munmap, trims + 2);
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
