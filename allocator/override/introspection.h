// What a libhakmem_<variant>.so says about itself: the HAKMEM_STATS summary
// (at exit, and on malloc_stats()), mallinfo2, and whether malloc_trim gave
// anything back. All of it reads the process-wide backend, heap registry
// and PAL, which every variant's front end sits on, so none of it depends
// on the variant. Nothing here allocates: it runs inside malloc's library,
// possibly at exit.
#pragma once

#include <malloc.h>

#include <cstdint>

namespace hakmem {

// Writes the summary to stderr, one write(2) per line (log.h):
//   hakmem: stats of <variant> (HAKMEM_STATS)
//   per size class with any event: refills, refilled, spilled, freed
//     (slow paths only; the tiny fast path is not counted, which the
//     summary says)
//   superslabs: <n> mapped, <m> released
//   heaps: <a> active, <m> made (by running threads; ever, the late heap
//     included: heaps are reused, never unmapped)
//   large blocks: <n> mapped, <m> unmapped; <r> resized in place, <f> resizes refused
//     (mapped from the OS and unmapped, not counting cache hits; mremaps
//     of realloc and of cache hits shrunk to size, and those refused)
//   large cache: <b> blocks, <k> KiB (bound <l> KiB); <h> hits, <m> misses,
//     <e> evicted; <p> purged and <x> unmapped after the delay (freed
//     mappings kept for reuse now; allocations served by one, and not;
//     mappings pushed out by the bound; purged, then unmapped, by decay)
//   peak RSS: <k> KiB (VmHWM)
//   system calls: <a> mmap, <b> munmap, <c> madvise, <d> mremap
//   refused by the OS: <d> mmap, <e> munmap; <f> freed large blocks still
//     mapped (...)                           only when the OS refused any
void print_stats(const char* variant);

// What hakmem can say in mallinfo2's terms (the rest is 0):
//   arena    bytes of SuperSlabs and L25 regions mapped now
//   uordblks bytes of slabs in use, their free blocks included (hakmem
//            counts slabs, not blocks, off the fast path), and of L25
//            spans in use or in the L25 caches
//   fordblks arena - uordblks: free slab slots, SuperSlab headers, free
//            L25 spans and region headers
//   hblks    large blocks live, hblkhd their mapped bytes
struct mallinfo2 current_mallinfo2();

// munmap and madvise calls so far: malloc_trim returns 1 when a trim made
// any, as glibc's returns 1 when memory went back to the system.
uint64_t memory_return_calls();

}  // namespace hakmem
