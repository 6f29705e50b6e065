// The allocator a driver measures, for the system peers: plain malloc and
// free, which resolve to whichever library the driver was linked against
// (glibc, or jemalloc / tcmalloc / mimalloc interposed ahead of it).
#pragma once

#include <cstddef>
#include <cstdlib>

#include "workloads/allocator_limits.h"

#ifndef LAB_ALLOCATOR_NAME
#error "LAB_ALLOCATOR_NAME must name the system allocator (set by lab_driver())"
#endif

struct hak_syscalls;  // allocator/api/c_api.h
struct hak_learning;
struct hak_learn_decision;

namespace lab {

inline constexpr const char* kAllocatorKind = "system";
inline constexpr const char* kAllocatorName = LAB_ALLOCATOR_NAME;
inline constexpr AllocatorLimits kAllocatorLimits{};
// A peer counts no system calls for us (a hakmem library preloaded into this
// driver is asked by the driver itself, through dlsym).
inline constexpr void (*kSyscallCounts)(hak_syscalls*) = nullptr;
inline constexpr void (*kLearnReport)(hak_learning*) = nullptr;
inline constexpr size_t (*kLearnDecisions)(hak_learn_decision*, size_t, size_t) = nullptr;

[[gnu::always_inline]] inline void* allocate(size_t size) { return std::malloc(size); }
[[gnu::always_inline]] inline void deallocate(void* p) { std::free(p); }
[[gnu::always_inline]] inline void* reallocate(void* p, size_t size) { return std::realloc(p, size); }

}  // namespace lab
