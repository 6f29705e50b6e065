// The allocator a driver measures, for hakmem variants: the variant's
// inline C++ API (hakmem/variant.h, generated per variant), so the fast
// path inlines into the workload loop.
#pragma once

#include <cstddef>

#include "allocator/api/c_api.h"
#include "hakmem/variant.h"
#include "workloads/allocator_limits.h"

namespace lab {

inline constexpr const char* kAllocatorKind = "hakmem";
inline constexpr const char* kAllocatorName = hakmem::ThisVariant::kName.data();
inline constexpr AllocatorLimits kAllocatorLimits = hakmem::ThisVariant::kLimits;
// What hakmem's Pal counted: the variant's C ABI, linked in.
inline constexpr void (*kSyscallCounts)(hak_syscalls*) = &hak_syscall_counts;
// What its learner did (HAKMEM_LEARN): the variant's C ABI, linked in.
inline constexpr void (*kLearnReport)(hak_learning*) = &hak_learn_report;
inline constexpr size_t (*kLearnDecisions)(hak_learn_decision*, size_t, size_t) = &hak_learn_decisions;

[[gnu::always_inline]] inline void* allocate(size_t size) { return hakmem::ThisVariant::malloc(size); }
[[gnu::always_inline]] inline void deallocate(void* p) { hakmem::ThisVariant::free(p); }
[[gnu::always_inline]] inline void* reallocate(void* p, size_t size) {
  return hakmem::ThisVariant::realloc(p, size);
}

}  // namespace lab
