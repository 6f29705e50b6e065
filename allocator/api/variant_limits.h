// What a variant can serve. Real allocators serve everything; the bound
// reference does not, and says so here, so drivers refuse runs it cannot
// measure honestly instead of producing a meaningless number. The workload
// drivers describe every allocator they measure, peers included, with this
// same struct (workloads/allocator_limits.h); nothing here may depend on
// the allocator itself.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hakmem {

struct VariantLimits {
  bool single_thread = false;   // only one thread may allocate
  size_t max_size = SIZE_MAX;   // largest request served
  bool returns_memory = true;   // freed memory can go back to the OS
  bool checks_frees = true;     // invalid frees are reported, not trusted

  // Whether the variant can be a whole program's malloc (a
  // libhakmem_<variant>.so): any program may start threads and ask for any
  // size. A reference that cannot (bound) gets no library.
  constexpr bool serves_any_program() const { return !single_thread && max_size == SIZE_MAX; }
};

}  // namespace hakmem
