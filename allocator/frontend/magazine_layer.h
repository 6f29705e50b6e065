// MagazineLayer<Rounds>: Bonwick-style per-thread magazines per tiny class,
// a loaded and a previous magazine, exchanging with the Depot.
//
//   alloc: loaded has a round -> pop
//          else previous is full -> swap loaded/previous, pop
//          else the depot has a full magazine of this heap's blocks ->
//               previous (empty) to the depot, loaded becomes previous,
//               the full one is loaded, pop
//          else fill loaded from the thread heap's blocks (the refill
//               batch; no new slab), pop
//          else any full magazine of the depot, as above
//          else fill loaded from a new slab, pop
//   free:  loaded has room -> push
//          else previous is empty -> swap, push
//          else previous (full) to the depot (or, at the depot's limit, its
//               rounds spill to the heap), loaded becomes previous, an empty
//               magazine from the depot is loaded, push
//
// Invariants, per class, once the slot is set up:
//   slot.rounds == slot.loaded->rounds and slot.capacity == loaded->cap;
//   the true count of `loaded` is slot.count (loaded->count is written back
//   before the magazine leaves the slot);
//   previous->count is 0 or previous->cap (Bonwick's "previous is full or
//   empty").
// Sizes: a magazine loaded empty takes the class's capacity then, the
// learner's or Rounds (config/tunables.h, at most Rounds), and a refill
// fills it with the class's refill batch; so a published size reaches a
// thread one magazine at a time, on its slow path.
// A zeroed slot (capacity 0, count 0) fails both fast paths, so a thread's
// first call reaches the slow path, where magazines are attached.
// Layout serves try_alloc/try_free: rounds, count and capacity in the first
// 16 bytes of a 32-byte slot, two slots per cache line.
#pragma once

#include <cstdint>
#include <cstring>
#include <utility>

#include "allocator/config/size_classes.h"
#include "allocator/config/tunables.h"
#include "allocator/frontend/magazine.h"
#include "allocator/pools/thread_heap.h"

namespace hakmem {

template <uint32_t Rounds>
struct MagazineLayer {
  using Mag = Magazine<Rounds>;
  using MagDepot = Depot<Rounds>;
  static constexpr tunables::TinyLayout kTinyLayout{Rounds, Rounds};

  struct Slot {
    void** rounds;
    uint32_t count;
    uint32_t capacity;
    Mag* loaded;
    Mag* previous;
  };
  struct Cache {
    Slot slots[kTinyClasses];
  };

  [[gnu::always_inline]] static void* try_alloc(Cache& cache, unsigned size_class) {
    Slot& s = cache.slots[size_class];
    if (s.count != 0) [[likely]] {
      void* p = s.rounds[--s.count];
      if (p == nullptr) __builtin_unreachable();  // rounds are blocks, never null
      return p;
    }
    return nullptr;
  }

  [[gnu::always_inline]] static bool try_free(Cache& cache, FreeBlock* block, unsigned size_class) {
    Slot& s = cache.slots[size_class];
    if (s.count < s.capacity) [[likely]] {
      s.rounds[s.count++] = block;
      return true;
    }
    return false;
  }

  static void init(Cache&) {}  // magazines are attached on each class's first slow path

  // New sizes are read as each magazine loads empty (load): nothing to do.
  static void retune(Cache&, ThreadHeap&) {}

  static void* alloc_slow(Cache& cache, ThreadHeap& heap, unsigned size_class) {
    Slot& s = cache.slots[size_class];
    if (!reload(s, heap, size_class)) return heap.alloc_block(size_class);
    return s.rounds[--s.count];
  }

  static void free_slow(Cache& cache, ThreadHeap& heap, FreeBlock* block, unsigned size_class) {
    Slot& s = cache.slots[size_class];
    if (!unload(s, heap, size_class)) {
      heap.free_block(block, slab_of(block));  // no magazine memory: bypass the layer
      return;
    }
    s.rounds[s.count++] = block;
  }

  // Thread exit or trim: every round goes home through the heap, and the
  // magazines go back to the depot's empty stack (or the pool); the next
  // slow path attaches fresh ones.
  static void flush(Cache& cache, ThreadHeap& heap) {
    for (unsigned c = 0; c < kTinyClasses; ++c) {
      Slot& s = cache.slots[c];
      for (Mag* m : {s.loaded, s.previous}) {
        if (m == nullptr) continue;
        if (m == s.loaded) m->count = s.count;
        MagDepot::spill_rounds(heap, m);
        MagDepot::put_empty(c, m);
      }
      s = Slot{};
    }
  }

  static void trim_shared(ThreadHeap& heap) { MagDepot::trim(heap); }

  // The process-wide purge check's call (Allocator::purge_check): the
  // depot's classes unused for a delay send their full magazines home.
  static void purge_shared(ThreadHeap& heap, uint64_t now_ms) { MagDepot::purge_idle(heap, now_ms); }

  // This thread is exiting: the depot keeps one full magazine per class
  // per thread that is still running.
  static void on_thread_exit(ThreadHeap& heap) {
    const int others = active_heaps() - 1;
    MagDepot::trim(heap, others < 0 ? 0 : static_cast<uint32_t>(others));
  }

  // Lower-layer interface (for HotLayer): up to n rounds into out[]. Out
  // of line: inlined into HotLayer::alloc_slow, GCC expanded its memcpy of
  // a few rounds inline, 0.26 instructions per operation more on
  // random_free (callgrind, issue 13's tunables made it an inlining
  // candidate).
  [[gnu::noinline]] static uint32_t pop_many(Cache& cache, ThreadHeap& heap, unsigned size_class, void** out, uint32_t n) {
    Slot& s = cache.slots[size_class];
    uint32_t got = 0;
    while (got < n) {
      if (s.count == 0 && !reload(s, heap, size_class)) break;
      const uint32_t k = n - got < s.count ? n - got : s.count;
      s.count -= k;
      memcpy(out + got, s.rounds + s.count, k * sizeof(void*));
      got += k;
    }
    if (got == 0) {  // no magazine memory: straight from the heap
      if (void* p = heap.alloc_block(size_class)) out[got++] = p;
    }
    return got;
  }

  // Lower-layer interface: takes in[0, n).
  static void push_many(Cache& cache, ThreadHeap& heap, unsigned size_class, void* const* in, uint32_t n) {
    Slot& s = cache.slots[size_class];
    uint32_t done = 0;
    while (done < n) {
      if (s.count == s.capacity && !unload(s, heap, size_class)) {
        for (; done < n; ++done) heap.free_block(static_cast<FreeBlock*>(in[done]), slab_of(in[done]));
        return;
      }
      const uint32_t k = n - done < s.capacity - s.count ? n - done : s.capacity - s.count;
      memcpy(s.rounds + s.count, in + done, k * sizeof(void*));
      s.count += k;
      done += k;
    }
  }

 private:
  // The class's magazine capacity now: the learner's, within Rounds.
  static uint32_t cap_now(unsigned size_class) {
    const uint32_t cap = tunables::tiny_cache(size_class, Rounds);
    return cap < Rounds ? cap : Rounds;
  }

  // A magazine that comes from the depot's or the pool's empty stack, or
  // is refilled, takes the class's capacity now (`fresh`); one swapped in
  // from `previous` keeps its own (it was sized when it was last loaded).
  static void load(Slot& s, Mag* m, unsigned size_class, bool fresh = false) {
    if (fresh) m->cap = cap_now(size_class);
    s.loaded = m;
    s.rounds = m->rounds;
    s.count = m->count;
    s.capacity = m->cap;
  }

  // Gives the slot both magazines (a fresh slot has none; an OOM fallback
  // may have left it without `previous`), mapped through the heap's Pal if
  // the pool must grow. False on OOM.
  static bool attach(Slot& s, ThreadHeap& heap, unsigned size_class) {
    if (s.loaded == nullptr) {
      Mag* m = MagDepot::take_empty(size_class, heap);
      if (m == nullptr) return false;
      load(s, m, size_class, /*fresh=*/true);
    }
    if (s.previous == nullptr) {
      s.previous = MagDepot::take_empty(size_class, heap);
      if (s.previous == nullptr) return false;
      s.previous->cap = cap_now(size_class);
    }
    return true;
  }

  // Both magazines empty: the depot's full one is loaded, and the empty
  // previous goes to the depot.
  static void load_full(Slot& s, Mag* full, unsigned size_class) {
    MagDepot::put_empty(size_class, s.previous);
    s.previous = s.loaded;
    load(s, full, size_class);
  }

  // Makes s.count > 0 (the alloc side of the state machine). False on OOM.
  static bool reload(Slot& s, ThreadHeap& heap, unsigned size_class) {
    if (!attach(s, heap, size_class)) return false;
    s.loaded->count = s.count;
    if (s.previous->count != 0) {  // full
      Mag* full = s.previous;
      s.previous = s.loaded;
      load(s, full, size_class);
      return true;
    }
    if (Mag* full = MagDepot::take_full(size_class, &heap)) {
      load_full(s, full, size_class);
      return true;
    }
    // Both magazines are empty and the depot has none of this heap's: fill
    // `loaded`, sized anew (it is empty), with the class's refill batch;
    // from another heap's magazine only rather than a new slab.
    load(s, s.loaded, size_class, /*fresh=*/true);
    const uint32_t refill = tunables::tiny_refill(size_class, Rounds);
    const uint32_t want = refill < s.capacity ? refill : s.capacity;
    BlockChain chain = heap.refill(size_class, want, /*may_grow=*/false);
    if (chain.count == 0) {
      if (Mag* full = MagDepot::take_full(size_class, /*home=*/nullptr)) {
        load_full(s, full, size_class);
        return true;
      }
      chain = heap.refill(size_class, want);
    }
    uint32_t i = 0;
    for (FreeBlock* b = chain.head; b != nullptr; b = b->next) s.loaded->rounds[i++] = b;
    s.count = i;
    return i != 0;
  }

  // Makes s.count < s.capacity (the free side). False on OOM.
  static bool unload(Slot& s, ThreadHeap& heap, unsigned size_class) {
    if (!attach(s, heap, size_class)) return false;
    s.loaded->count = s.count;
    if (s.previous->count == 0) {
      Mag* empty = s.previous;
      s.previous = s.loaded;
      load(s, empty, size_class);
      return true;
    }
    // previous is full: hand it to the depot, or empty it at the limit.
    Mag* spare = nullptr;
    if (!MagDepot::put_full(size_class, s.previous)) {
      MagDepot::spill_rounds(heap, s.previous);
      spare = s.previous;
    }
    s.previous = s.loaded;
    const bool taken = spare == nullptr;
    if (taken) spare = MagDepot::take_empty(size_class, heap);
    if (spare == nullptr) {
      // OOM for a magazine: keep the full previous as loaded and say so.
      load(s, s.previous, size_class);
      s.previous = nullptr;
      return false;
    }
    load(s, spare, size_class, /*fresh=*/taken);
    return true;
  }
};

}  // namespace hakmem
