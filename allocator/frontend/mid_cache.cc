// MidCache: refill, limits and spills (design in the header).
#include "allocator/frontend/mid_cache.h"

#include <algorithm>

#include "allocator/pal/log.h"

namespace hakmem {

void MidCache::init(uint64_t budget_bytes) {
  *this = MidCache{};
  budget = budget_bytes;
}

void* MidCache::alloc_slow(ThreadHeap& heap, unsigned size_class) {
  MidList& l = list(size_class);
  const uint32_t step = batch(size_class);
  // A miss raises the limit from unreserved budget only: an allocation
  // burst should not make other classes spill (their blocks may be wanted
  // back at once); the frees that follow it claim share if they need it.
  if (l.limit < step) raise_limit(size_class, nullptr);
  // One block for the user, and up to the limit for the list (empty at a
  // miss); with a limit of 0, one block: the heap serves it directly.
  const BlockChain chain = heap.refill(size_class, std::min(step, l.limit + 1));
  if (chain.count == 0) return nullptr;
  moved += uint64_t{chain.count} * kClassSize[size_class];
  FreeBlock* user = chain.head;
  if (chain.count > 1) {
    // The heap links at offset 0, the list at each block's colour: the
    // pass that marks the blocks relinks them too.
    for (FreeBlock* b = user->next; b != nullptr;) {
      FreeBlock* next = b->next;
      uintptr_t* words = words_of(b);
      words[0] = reinterpret_cast<uintptr_t>(next);
      words[1] = mark_of(b);
      b = next;
    }
    link(chain.tail) = l.head;
    l.head = user->next;
    l.count += chain.count - 1;
  }
  mark_word(user) = 0;
  return user;
}

bool MidCache::free_slow(ThreadHeap& heap, FreeBlock* block, unsigned size_class) {
  if (kClassSize[size_class] > budget) return false;
  MidList& l = list(size_class);
  // Either the limit rises, or the colder half of this list goes home and
  // the hot half stays: the next frees of the class hit either way.
  if (!raise_limit(size_class, &heap)) spill_beyond(heap, size_class, l.count / 2);
  // raise_limit leaves a limit of 1 or more once the class fits the budget
  // (a spent budget has a larger holder to take from, or this class holds
  // the most), and the spill left count < limit.
  if (l.count >= l.limit) fatal("mid cache: class %u full after making room (limit %u)", size_class, l.limit);
  push(l, block, words_of(block));
  return true;
}

bool MidCache::raise_limit(unsigned size_class, ThreadHeap* heap) {
  MidList& l = list(size_class);
  const uint64_t size = kClassSize[size_class];
  bool released_idle = false;
  for (;;) {
    const uint64_t room = (budget - reserved) / size;
    if (room != 0) {
      const auto step = static_cast<uint32_t>(std::min<uint64_t>(room, batch(size_class)));
      l.limit += step;
      reserved += step * size;
      return true;
    }
    if (heap == nullptr) return false;
    // Idle blocks first: they cost nobody a refill.
    if (!released_idle) {
      released_idle = true;
      if (release_idle(*heap, size_class)) continue;
    }
    // The budget is spent: the largest other share gives up half, unless
    // this class holds as much (then it recycles its own blocks).
    unsigned largest = size_class;
    for (unsigned c = kTinyClasses; c < kSlabClasses; ++c) {
      if (c != size_class && share(c) > share(largest)) largest = c;
    }
    if (largest == size_class) return false;
    lower_limit(*heap, largest, list(largest).limit / 2);
  }
}

bool MidCache::release_idle(ThreadHeap& heap, unsigned size_class) {
  if (moved < budget) return false;
  moved = 0;
  bool released = false;
  for (unsigned c = kTinyClasses; c < kSlabClasses; ++c) {
    const uint32_t idle = low_water(c);
    if (c != size_class && idle != 0) {
      // Half, as tcmalloc's scavenger: a class idle for one pass may be
      // busy again at the next; one idle for many gives back all by then.
      lower_limit(heap, c, list(c).limit - (idle + 1) / 2);
      released = true;
    }
    low_water(c) = list(c).count;
  }
  return released;
}

void MidCache::lower_limit(ThreadHeap& heap, unsigned size_class, uint32_t new_limit) {
  MidList& l = list(size_class);
  reserved -= uint64_t{l.limit - new_limit} * kClassSize[size_class];
  l.limit = new_limit;
  spill_beyond(heap, size_class, new_limit);
}

void MidCache::spill_beyond(ThreadHeap& heap, unsigned size_class, uint32_t keep) {
  MidList& l = list(size_class);
  const uint32_t before = l.count;
  heap.spill(split_after(size_class, keep));
  moved += uint64_t{before - l.count} * kClassSize[size_class];
  low_water(size_class) = std::min(low_water(size_class), l.count);
}

FreeBlock* MidCache::split_after(unsigned size_class, uint32_t keep) {
  MidList& l = list(size_class);
  if (keep >= l.count) return nullptr;
  FreeBlock* rest = l.head;
  if (keep == 0) {
    l.head = nullptr;
  } else {
    FreeBlock* last_kept = l.head;
    for (uint32_t i = 1; i < keep; ++i) last_kept = link(last_kept);
    rest = link(last_kept);
    link(last_kept) = nullptr;
  }
  l.count = keep;
  // Relinked at offset 0 for the heap; the marks stay (header).
  for (FreeBlock* b = rest; b != nullptr;) {
    FreeBlock* next = link(b);
    b->next = next;
    b = next;
  }
  return rest;
}

uint64_t MidCache::bytes() const {
  uint64_t sum = 0;
  for (unsigned c = kTinyClasses; c < kSlabClasses; ++c) sum += uint64_t{lists[c - kTinyClasses].count} * kClassSize[c];
  return sum;
}

void MidCache::flush(ThreadHeap& heap) {
  for (unsigned c = kTinyClasses; c < kSlabClasses; ++c) lower_limit(heap, c, 0);
}

}  // namespace hakmem
