#include "allocator/pal/fake_pal.h"

namespace hakmem {

void* FakePal::map(size_t size, size_t align) {
  int failing = failing_maps_.load();
  while (failing > 0) {
    if (failing_maps_.compare_exchange_weak(failing, failing - 1)) {
      failed_maps_.fetch_add(1);
      return nullptr;
    }
  }
  void* p = os_pal().map(size, align);
  if (p != nullptr) {
    maps_.fetch_add(1);
    mapped_bytes_.fetch_add(static_cast<int64_t>(size));
  }
  return p;
}

void FakePal::unmap(void* p, size_t size) {
  unmaps_.fetch_add(1);
  mapped_bytes_.fetch_sub(static_cast<int64_t>(size));
  os_pal().unmap(p, size);
}

void FakePal::purge(void* p, size_t size) {
  purges_.fetch_add(1);
  purged_bytes_.fetch_add(static_cast<int64_t>(size));
  os_pal().purge(p, size);
}

}  // namespace hakmem
