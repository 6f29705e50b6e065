// The knob file: a learner's knobs as text, which HAKMEM_LEARN=frozen
// loads so a benchmark runs with exactly what an earlier run learned
// (issue 13). One knob per line, its name and then its value, or one value
// per class or group:
//
//   # hakmem knobs (HAKMEM_LEARN=frozen)
//   tiny_cache 64 64 ... (kTinyClasses values)
//   tiny_refill 64 64 ...
//   mid_cache_kib 1024
//   l25_cache_kib 1024
//   large_cache_mib 128
//   purge_delay_ms 250
//   superslab_kib 2048 ... (kSuperSlabGroups values)
//
// Both directions work in caller-owned buffers, allocating nothing: they
// run inside the allocator.
#pragma once

#include <cstddef>

#include "allocator/learn/knobs.h"

namespace hakmem::learn {

// The largest text format_knobs writes.
inline constexpr size_t kKnobFileMax = 2048;

// Writes k as a knob file into out (at most cap bytes, NUL-terminated);
// returns the length without the NUL, or 0 if it did not fit.
size_t format_knobs(const Knobs& k, char* out, size_t cap);

// Reads a knob file: every knob once, every value within b (within()).
// False with a one-line reason in why (cap why_cap) naming the line and
// what is wrong with it; *out is then unchanged.
bool parse_knobs(const char* text, const KnobBounds& b, Knobs* out, char* why, size_t why_cap);

}  // namespace hakmem::learn
