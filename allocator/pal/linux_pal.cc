// Linux implementation of the PAL: anonymous private mappings, aligned by
// over-mapping and trimming, purged with MADV_DONTNEED (RSS drops at once,
// which is what the lab measures; MADV_FREE would leave RSS high until the
// kernel is under pressure).
//
// map() leaves out MAP_NORESERVE so the kernel's overcommit check applies
// (issue 11: with it, malloc(2^36 .. 2^46) succeeded on a 23 GiB machine
// and the program was killed on touching the memory; glibc returns NULL
// with ENOMEM). map_unaccounted() keeps it for sparse reservations.
#include <linux/membarrier.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <time.h>

#include <cerrno>
#include <cstdint>

#include "allocator/pal/pal.h"

namespace hakmem {
namespace {

void count(std::atomic<uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

void* LinuxPal::mmap_counted(int extra_flags, size_t size) {
  count(mmaps_);
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | extra_flags, -1, 0);
  if (p != MAP_FAILED) return p;
  count(failed_mmaps_);
  return nullptr;
}

bool LinuxPal::munmap_counted(void* p, size_t size) {
  count(munmaps_);
  if (munmap(p, size) == 0) return true;
  count(failed_munmaps_);
  return false;
}

void* LinuxPal::map_with(int extra_flags, size_t size, size_t align) {
  if (align <= kPageSize) return mmap_counted(extra_flags, size);
  // Over-map by align - page, then trim both ends: at most three calls,
  // and the kernel never hands out an unaligned region we keep.
  const size_t over = size + align - kPageSize;
  if (over < size) return nullptr;  // overflow
  auto* raw = static_cast<char*>(mmap_counted(extra_flags, over));
  if (raw == nullptr) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + align - 1) & ~(uintptr_t{align} - 1);
  const size_t head = aligned - start;
  const size_t tail = over - head - size;
  // A trim can fail (the new mapping merged with a neighbour, and cutting
  // it splits a mapping past vm.max_map_count). Then the region is not
  // what the caller asked for and could not be unmapped by it: give it all
  // back and report failure, so no byte is mapped that nobody accounts for.
  const bool head_ok = head == 0 || munmap_counted(raw, head);
  const bool tail_ok = tail == 0 || munmap_counted(reinterpret_cast<char*>(aligned) + size, tail);
  if (!head_ok || !tail_ok) {
    const bool freed = munmap_counted(head_ok ? reinterpret_cast<char*>(aligned) : raw,
                                      (head_ok ? size : head + size) + (tail_ok ? 0 : tail));
    (void)freed;  // if even that fails, failed_munmap says so
    return nullptr;
  }
  return reinterpret_cast<void*>(aligned);
}

void* LinuxPal::map(size_t size, size_t align) { return map_with(0, size, align); }

void* LinuxPal::map_unaccounted(size_t size, size_t align) { return map_with(MAP_NORESERVE, size, align); }

bool LinuxPal::unmap(void* p, size_t size) { return munmap_counted(p, size); }

void LinuxPal::purge(void* p, size_t size) {
  count(madvises_);
  madvise(p, size, MADV_DONTNEED);
}

bool LinuxPal::populate(void* p, size_t size) {
  // A kernel without it refuses every call alike: ask once.
  if (no_populate_.load(std::memory_order_relaxed)) return false;
  count(madvises_);
  const int saved = errno;  // a malloc that succeeds leaves errno alone
  if (madvise(p, size, MADV_POPULATE_WRITE) == 0) return true;
  if (errno == EINVAL) no_populate_.store(true, std::memory_order_relaxed);
  errno = saved;
  return false;
}

bool LinuxPal::remap(void* p, size_t old_size, size_t new_size) {
  count(mremaps_);
  if (mremap(p, old_size, new_size, 0) != MAP_FAILED) return true;
  count(failed_mremaps_);
  return false;
}

// The coarse clock: the kernel's tick time, read from the vDSO page without
// the TSC (7.8 ns a reading here against 45 ns for CLOCK_MONOTONIC, load
// 5-8), late by up to one tick (4 ms at HZ=250). Purge delays are hundreds
// of milliseconds, and the process-wide purge check reads the clock every
// 8th L25 allocation (pools/purge.h), so the cheap reading matters more
// than the resolution.
uint64_t LinuxPal::now_ms() {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return static_cast<uint64_t>(now.tv_sec) * 1000 + static_cast<uint64_t>(now.tv_nsec) / 1'000'000;
}

bool LinuxPal::barrier_all_threads() {
  int state = barrier_state_.load(std::memory_order_acquire);
  if (state == 0) {
    state = syscall(SYS_membarrier, MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0 ? 1 : -1;
    barrier_state_.store(state, std::memory_order_release);
  }
  return state > 0 && syscall(SYS_membarrier, MEMBARRIER_CMD_PRIVATE_EXPEDITED, 0, 0) == 0;
}

SyscallCounts LinuxPal::syscalls() const {
  constexpr auto r = std::memory_order_relaxed;
  SyscallCounts counts;
  counts.mmap = mmaps_.load(r);
  counts.munmap = munmaps_.load(r);
  counts.madvise = madvises_.load(r);
  counts.mremap = mremaps_.load(r);
  counts.failed_mmap = failed_mmaps_.load(r);
  counts.failed_munmap = failed_munmaps_.load(r);
  counts.failed_mremap = failed_mremaps_.load(r);
  return counts;
}

constinit LinuxPal g_os_pal;

}  // namespace hakmem
