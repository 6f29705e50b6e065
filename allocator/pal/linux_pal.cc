// Linux implementation of the PAL: anonymous private mappings, aligned by
// over-mapping and trimming, purged with MADV_DONTNEED (RSS drops at once,
// which is what the lab measures; MADV_FREE would leave RSS high until the
// kernel is under pressure).
#include <sys/mman.h>

#include <cstdint>

#include "allocator/pal/pal.h"

namespace hakmem {
namespace {

void* map_anonymous(size_t size) {
  void* p = mmap(nullptr, size, PROT_READ | PROT_WRITE,
                 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  return p == MAP_FAILED ? nullptr : p;
}

void count(std::atomic<uint64_t>& counter) { counter.fetch_add(1, std::memory_order_relaxed); }

}  // namespace

void* LinuxPal::map(size_t size, size_t align) {
  count(mmaps_);
  if (align <= kPageSize) return map_anonymous(size);
  // Over-map by align - page, then trim both ends: at most three calls,
  // and the kernel never hands out an unaligned region we keep.
  const size_t over = size + align - kPageSize;
  if (over < size) return nullptr;  // overflow
  auto* raw = static_cast<char*>(map_anonymous(over));
  if (raw == nullptr) return nullptr;
  const uintptr_t start = reinterpret_cast<uintptr_t>(raw);
  const uintptr_t aligned = (start + align - 1) & ~(uintptr_t{align} - 1);
  const size_t head = aligned - start;
  const size_t tail = over - head - size;
  if (head != 0) {
    count(munmaps_);
    munmap(raw, head);
  }
  if (tail != 0) {
    count(munmaps_);
    munmap(reinterpret_cast<char*>(aligned) + size, tail);
  }
  return reinterpret_cast<void*>(aligned);
}

void LinuxPal::unmap(void* p, size_t size) {
  count(munmaps_);
  munmap(p, size);
}

void LinuxPal::purge(void* p, size_t size) {
  count(madvises_);
  madvise(p, size, MADV_DONTNEED);
}

SyscallCounts LinuxPal::syscalls() const {
  constexpr auto r = std::memory_order_relaxed;
  return {mmaps_.load(r), munmaps_.load(r), madvises_.load(r)};
}

constinit LinuxPal g_os_pal;

}  // namespace hakmem
