#include "allocator/pal/fake_pal.h"

namespace hakmem {

// Consumes one of the calls told to fail, if any is left.
bool FakePal::take_one(std::atomic<int>& failing) {
  int n = failing.load();
  while (n > 0) {
    if (failing.compare_exchange_weak(n, n - 1)) return true;
  }
  return false;
}

void* FakePal::counted(void* p, size_t size) {
  if (p != nullptr) {
    maps_.fetch_add(1);
    mapped_bytes_.fetch_add(static_cast<int64_t>(size));
  } else {
    failed_maps_.fetch_add(1);
  }
  return p;
}

void* FakePal::map(size_t size, size_t align) {
  if (take_one(failing_maps_)) return counted(nullptr, size);
  return counted(os_pal().map(size, align), size);
}

void* FakePal::map_unaccounted(size_t size, size_t align) {
  if (take_one(failing_maps_)) return counted(nullptr, size);
  void* p = counted(os_pal().map_unaccounted(size, align), size);
  if (p != nullptr) unaccounted_maps_.fetch_add(1);
  return p;
}

bool FakePal::unmap(void* p, size_t size) {
  if (take_one(failing_unmaps_) || !os_pal().unmap(p, size)) {
    failed_unmaps_.fetch_add(1);
    return false;
  }
  unmaps_.fetch_add(1);
  mapped_bytes_.fetch_sub(static_cast<int64_t>(size));
  return true;
}

void FakePal::purge(void* p, size_t size) {
  purges_.fetch_add(1);
  purged_bytes_.fetch_add(static_cast<int64_t>(size));
  os_pal().purge(p, size);
}

bool FakePal::populate(void* p, size_t size) {
  populates_.fetch_add(1);
  populated_bytes_.fetch_add(static_cast<int64_t>(size));
  return os_pal().populate(p, size);
}

bool FakePal::remap(void* p, size_t old_size, size_t new_size) {
  if (take_one(failing_remaps_) || !os_pal().remap(p, old_size, new_size)) {
    failed_remaps_.fetch_add(1);
    return false;
  }
  remaps_.fetch_add(1);
  mapped_bytes_.fetch_add(static_cast<int64_t>(new_size) - static_cast<int64_t>(old_size));
  return true;
}

bool FakePal::barrier_all_threads() {
  if (take_one(failing_barriers_)) return false;
  barriers_.fetch_add(1);
  return os_pal().barrier_all_threads();
}

}  // namespace hakmem
