// A PAL for tests: forwards to the real one, counts every call and the bytes
// mapped, and can be told to refuse maps, unmaps and remaps (to test
// out-of-memory paths and books kept through a failed unmap). Its clock
// stands still until the test moves it (advance_ms), so purge delays are
// tested without sleeping.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

#include "allocator/pal/pal.h"

namespace hakmem {

class FakePal final : public Pal {
 public:
  void* map(size_t size, size_t align) override;
  void* map_unaccounted(size_t size, size_t align) override;
  [[nodiscard]] bool unmap(void* p, size_t size) override;
  void purge(void* p, size_t size) override;
  bool populate(void* p, size_t size) override;
  [[nodiscard]] bool remap(void* p, size_t old_size, size_t new_size) override;
  uint64_t now_ms() override { return now_ms_.load(); }
  // Counted, then the real barrier, unless refused (fail_next_barriers).
  bool barrier_all_threads() override;

  // Moves the clock now_ms() reads forward (it starts at 0).
  void advance_ms(uint64_t ms) { now_ms_.fetch_add(ms); }

  // The next `n` calls to map() or map_unaccounted() fail (return nullptr)
  // without calling the OS.
  void fail_next_maps(int n) { failing_maps_.store(n); }
  // The next `n` calls to unmap() fail (return false) and leave the range
  // mapped, as a refused munmap does.
  void fail_next_unmaps(int n) { failing_unmaps_.store(n); }
  // The next `n` calls to remap() fail (return false) and leave the
  // mapping as it was, as mremap does when the pages after it are taken.
  void fail_next_remaps(int n) { failing_remaps_.store(n); }
  // The next `n` calls to barrier_all_threads() fail, as on a kernel
  // without membarrier.
  void fail_next_barriers(int n) { failing_barriers_.store(n); }

  // Successful calls (map() and map_unaccounted() together in maps()).
  int64_t maps() const { return maps_.load(); }
  int64_t unaccounted_maps() const { return unaccounted_maps_.load(); }
  int64_t failed_maps() const { return failed_maps_.load(); }
  int64_t unmaps() const { return unmaps_.load(); }
  int64_t failed_unmaps() const { return failed_unmaps_.load(); }
  int64_t purges() const { return purges_.load(); }
  int64_t purged_bytes() const { return purged_bytes_.load(); }
  int64_t populates() const { return populates_.load(); }
  int64_t populated_bytes() const { return populated_bytes_.load(); }
  int64_t remaps() const { return remaps_.load(); }
  int64_t failed_remaps() const { return failed_remaps_.load(); }
  int64_t barriers() const { return barriers_.load(); }
  // Bytes currently mapped through this PAL (maps minus successful unmaps).
  int64_t mapped_bytes() const { return mapped_bytes_.load(); }

 private:
  static bool take_one(std::atomic<int>& failing);
  void* counted(void* p, size_t size);

  std::atomic<int> failing_maps_{0};
  std::atomic<int> failing_unmaps_{0};
  std::atomic<int> failing_remaps_{0};
  std::atomic<int> failing_barriers_{0};
  std::atomic<int64_t> barriers_{0};
  std::atomic<uint64_t> now_ms_{0};
  std::atomic<int64_t> maps_{0};
  std::atomic<int64_t> unaccounted_maps_{0};
  std::atomic<int64_t> failed_maps_{0};
  std::atomic<int64_t> unmaps_{0};
  std::atomic<int64_t> failed_unmaps_{0};
  std::atomic<int64_t> purges_{0};
  std::atomic<int64_t> purged_bytes_{0};
  std::atomic<int64_t> populates_{0};
  std::atomic<int64_t> populated_bytes_{0};
  std::atomic<int64_t> remaps_{0};
  std::atomic<int64_t> failed_remaps_{0};
  std::atomic<int64_t> mapped_bytes_{0};
};

}  // namespace hakmem
