// The platform abstraction layer: every mmap, munmap, madvise and mremap
// the allocator makes, and the clock its purging reads, go through a Pal, so tests can count them and make them
// fail (fake_pal.h). Nothing above this layer includes <sys/mman.h>. The
// allocator's only other system calls, write(2) of a diagnostic line and
// abort (log.h) and reading its own peak RSS (process_status.h), live in
// this layer too. getenv (the options table) and
// pthread keys (thread-exit hooks) are C library services, not system
// calls, and are used where they are needed.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace hakmem {

inline constexpr size_t kPageSize = 4096;

class Pal {
 public:
  // Maps `size` bytes (a multiple of kPageSize) of zeroed read-write memory
  // starting at a multiple of `align` (a power of two, at least kPageSize).
  // Returns nullptr when the OS refuses; never aborts. The memory counts
  // against the kernel's overcommit policy (vm.overcommit_memory), as
  // glibc's does: a request the kernel would not back is refused here, not
  // with a SIGKILL when the program touches it. For what users get
  // (SuperSlabs, large blocks) and the metadata built in them.
  virtual void* map(size_t size, size_t align) = 0;
  // Like map, but a reservation the kernel does not account for
  // (MAP_NORESERVE): only for large address ranges touched sparsely and
  // lazily (bound's arena, a table indexed by address), where accounting
  // the whole range would refuse what will never be touched.
  virtual void* map_unaccounted(size_t size, size_t align) = 0;
  // Returns false when the OS refuses (munmap can fail with ENOMEM when
  // removing the range would split a mapping beyond vm.max_map_count);
  // the range is then still mapped, and the caller keeps its books so.
  [[nodiscard]] virtual bool unmap(void* p, size_t size) = 0;
  // Returns the pages of [p, p+size) to the OS while keeping the range
  // mapped: RSS falls now, and the next touch faults in a zero page.
  virtual void purge(void* p, size_t size) = 0;
  // Faults in the pages of [p, p+size) (page-aligned) for writing, in one
  // call: for pages the caller is about to write anyway, which would
  // otherwise fault one at a time (MADV_POPULATE_WRITE). False when the OS
  // refuses (a kernel before 5.14: EINVAL); nothing is lost, the pages
  // fault in when they are touched.
  virtual bool populate(void* p, size_t size) = 0;
  // Resizes the mapping [p, p+old_size) to new_size bytes (both multiples
  // of kPageSize) in place: shrinking always can, growing only when the
  // pages after it are free. Never moves the mapping (no MREMAP_MAYMOVE:
  // the caller's headers and class-map marks are at fixed addresses, and
  // a block that must move is copied by realloc). False when the OS
  // refuses; the mapping is then unchanged.
  [[nodiscard]] virtual bool remap(void* p, size_t old_size, size_t new_size) = 0;
  // Milliseconds on a monotonic clock, for time-decay purging (a page is
  // returned once it has been free for HAKMEM_PURGE_DELAY_MS). Through the
  // Pal so a test can set the time (FakePal::advance_ms) instead of
  // sleeping. LinuxPal reads the coarse clock from the vDSO (no system
  // call, a few ns, late by up to a kernel tick); callers read it on slow
  // paths only.
  virtual uint64_t now_ms() = 0;
  // Makes every running thread of this process pass a full memory barrier
  // before it returns (membarrier MEMBARRIER_CMD_PRIVATE_EXPEDITED; the
  // first call registers the process for it). The other half of an
  // asymmetric Dekker handshake whose frequent side orders its store and
  // load with a compiler barrier only (pools/cache_gate.h). False when the
  // kernel cannot (before 4.14, or a sandbox refuses the call); the caller
  // must then not rely on the ordering.
  virtual bool barrier_all_threads() = 0;

 protected:
  constexpr Pal() = default;
  ~Pal() = default;
};

// System calls a LinuxPal has made (HAKMEM_STATS). Counted here, where
// each one is already a trip into the kernel, so no fast path pays for it.
struct SyscallCounts {
  uint64_t mmap = 0;
  uint64_t munmap = 0;
  uint64_t madvise = 0;
  uint64_t mremap = 0;
  uint64_t failed_mmap = 0;    // refused by the OS (ENOMEM: overcommit, RLIMIT_AS, max_map_count)
  uint64_t failed_munmap = 0;  // refused by the OS; the range stayed mapped
  uint64_t failed_mremap = 0;  // refused (the pages after the mapping were taken); it kept its size
};

// The real Linux PAL: anonymous mappings, MADV_DONTNEED purges.
class LinuxPal final : public Pal {
 public:
  constexpr LinuxPal() = default;
  void* map(size_t size, size_t align) override;
  void* map_unaccounted(size_t size, size_t align) override;
  [[nodiscard]] bool unmap(void* p, size_t size) override;
  void purge(void* p, size_t size) override;
  bool populate(void* p, size_t size) override;
  [[nodiscard]] bool remap(void* p, size_t old_size, size_t new_size) override;
  uint64_t now_ms() override;
  bool barrier_all_threads() override;

  SyscallCounts syscalls() const;

 private:
  void* map_with(int extra_flags, size_t size, size_t align);
  void* mmap_counted(int extra_flags, size_t size);
  bool munmap_counted(void* p, size_t size);

  std::atomic<uint64_t> mmaps_{0};
  std::atomic<uint64_t> munmaps_{0};
  std::atomic<uint64_t> madvises_{0};
  std::atomic<uint64_t> mremaps_{0};
  std::atomic<uint64_t> failed_mremaps_{0};
  std::atomic<uint64_t> failed_mmaps_{0};
  std::atomic<uint64_t> failed_munmaps_{0};
  std::atomic<bool> no_populate_{false};  // the kernel refused MADV_POPULATE_WRITE once
  std::atomic<int> barrier_state_{0};     // 0: not registered yet; 1: registered; -1: refused
};

// A constant-initialised global, usable before any constructor has run (an
// LD_PRELOAD malloc can be called that early) and as a constant address.
extern LinuxPal g_os_pal;
inline Pal& os_pal() { return g_os_pal; }

}  // namespace hakmem
