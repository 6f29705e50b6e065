// The heap registry: where thread heaps come from and where they go when
// their thread exits. Heaps are never unmapped (a slab's owner pointer must
// stay valid while other threads still hold its blocks); an abandoned heap
// is adopted by the next new thread instead.
#pragma once

#include "allocator/pools/thread_heap.h"

namespace hakmem {

// A heap for the calling thread: an abandoned one if any (its slabs and all),
// else a new one. nullptr only if the OS refuses memory for the heap itself.
ThreadHeap* acquire_heap();

// The calling thread is done with `heap` (its front end already flushed).
void release_heap(ThreadHeap* heap);

// Heaps owned by running threads (acquired and not yet released).
int active_heaps();

// Sum of every heap's statistics, live and abandoned.
HeapStats total_heap_stats();

}  // namespace hakmem
