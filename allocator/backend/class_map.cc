// The class map's table (reserved once, lazily) and the invalid-free report.
#include "allocator/backend/class_map.h"


#include "allocator/pal/log.h"
#include "allocator/pal/pal.h"

namespace hakmem {

bool ClassMap::reserve_slow() {
  // The OS Pal, whatever Pal the caller maps through: the table is one per
  // process, like the addresses it describes.
  auto* fresh = static_cast<uint8_t*>(os_pal().map_unaccounted(kTableSize, kPageSize));
  if (fresh == nullptr) return table_.load(std::memory_order_acquire) != nullptr;
  uint8_t* expected = nullptr;
  if (!table_.compare_exchange_strong(expected, fresh, std::memory_order_acq_rel)) {
    (void)os_pal().unmap(fresh, kTableSize);  // another thread won; nothing was touched
  }
  return true;
}

void ClassMap::set(const void* start, size_t bytes, unsigned code) {
  if (bytes == 0) return;
  uint8_t* table = table_.load(std::memory_order_acquire);
  const uintptr_t first = reinterpret_cast<uintptr_t>(start) >> kSlabShift;
  const uintptr_t last = (reinterpret_cast<uintptr_t>(start) + bytes - 1) >> kSlabShift;
  // Byte by byte, atomically (relaxed): a range freed by one thread is
  // marked by another as soon as the kernel maps it again, ordered by the
  // munmap and mmap calls, which ThreadSanitizer does not see as
  // synchronisation. Slabs write one byte, a large block one per 64 KiB.
  const auto byte = static_cast<uint8_t>(code + 1);
  for (uintptr_t i = first; i <= last; ++i) std::atomic_ref<uint8_t>(table[i]).store(byte, std::memory_order_relaxed);
}

void report_invalid_free(const void* p, const char* what) { fatal("invalid free of %p: %s", p, what); }

}  // namespace hakmem
