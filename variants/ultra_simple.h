// ultra_simple: the seed design's front end. One bounded thread-local free
// list per tiny class; a miss refills 64 blocks from the thread heap; a
// free into a full list (128) spills the 64 coldest blocks back.
#pragma once

#include <string_view>

#include "allocator/api/allocator.h"
#include "allocator/frontend/free_list_layer.h"

// Test-only: N dependent adds (N+1 instructions with the register clear) on
// every allocation's fast path, to show what the regression gate catches:
//   bazel run -c opt --copt=-DHAKMEM_TEST_SLOWDOWN=N //harness:gate -- --baseline=...
#ifndef HAKMEM_TEST_SLOWDOWN
#define HAKMEM_TEST_SLOWDOWN 0
#endif

namespace hakmem::variants {

inline constexpr unsigned kTestSlowdown = HAKMEM_TEST_SLOWDOWN;

// Exactly N add instructions, each depending on the last (about N cycles
// of latency), emitted by the assembler's .rept: no helper functions that
// the compiler might decline to inline inside a large loop.
template <unsigned N>
[[gnu::always_inline]] inline void fixed_work() {
  unsigned long x = 0;
  asm volatile(".rept %c1\n\tadd $1, %0\n\t.endr" : "+r"(x) : "i"(N));
}

struct UltraSimple : FreeListLayer</*Refill=*/64, /*Limit=*/128> {
  static constexpr std::string_view kName = "ultra_simple";

  [[gnu::always_inline]] static void* try_alloc(Cache& cache, unsigned size_class) {
    if constexpr (kTestSlowdown > 0) fixed_work<kTestSlowdown>();
    return FreeListLayer::try_alloc(cache, size_class);
  }
};

using UltraSimpleAllocator = Allocator<UltraSimple>;

}  // namespace hakmem::variants
