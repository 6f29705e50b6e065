// ThreadHeap: refill, spill and the remote-free inbox (design in the header).
#include "allocator/pools/thread_heap.h"

#include <sched.h>

#include <algorithm>
#include <atomic>

#include "allocator/backend/class_map.h"
#include "allocator/config/options.h"
#include "allocator/pal/log.h"

namespace hakmem {

void ThreadHeap::link_partial(SlabMeta* slab) {
  SlabMeta*& head = partial_[slab->size_class];
  slab->prev = nullptr;
  slab->next = head;
  if (head != nullptr) head->prev = slab;
  head = slab;
  slab->on_partial = 1;
}

void ThreadHeap::unlink_partial(SlabMeta* slab) {
  SlabMeta*& head = partial_[slab->size_class];
  if (slab->prev != nullptr) slab->prev->next = slab->next;
  else head = slab->next;
  if (slab->next != nullptr) slab->next->prev = slab->prev;
  slab->next = slab->prev = nullptr;
  slab->on_partial = 0;
}

void ThreadHeap::wait_and_enter() {
  // A collector is inside: it processes one inbox and releases slabs, then
  // leaves. Spin briefly, then yield the CPU to it.
  for (unsigned spins = 0;; ++spins) {
    uint32_t expected = 0;
    if (busy_.load(std::memory_order_relaxed) == 0 &&
        busy_.compare_exchange_weak(expected, 1, std::memory_order_acquire, std::memory_order_relaxed))
      return;
    if (spins < 64) __builtin_ia32_pause();
    else sched_yield();
  }
}

BlockChain ThreadHeap::refill(unsigned size_class, uint32_t want, bool may_grow) {
  const Inside inside(this);
  return refill_inside(size_class, want, may_grow);
}

BlockChain ThreadHeap::refill_inside(unsigned size_class, uint32_t want, bool may_grow) {
  if (inbox_.load(std::memory_order_relaxed) != nullptr) collect_inside();
  BlockChain chain;
  FreeBlock** link = &chain.head;
  const uint32_t block_size = kClassSize[size_class];
  while (chain.count < want) {
    SlabMeta* slab = partial_[size_class];
    if (slab == nullptr) {
      collect_inside();  // never grow while blocks are waiting to come home
      slab = partial_[size_class];
    }
    if (slab == nullptr) {
      if (!may_grow) break;
      slab = superslabs_->acquire_slab(size_class, this);
      if (slab == nullptr) break;  // out of memory: return what we have
      bump(slabs_acquired_, 1);
      link_partial(slab);
    }
    uint32_t taken = 0;
    // Recycled blocks first: they are likely still in cache.
    FreeBlock* b = slab->free;
    while (b != nullptr && chain.count + taken < want) {
      *link = b;
      link = &b->next;
      chain.tail = b;
      b = b->next;
      ++taken;
    }
    if (slab->checked && taken != 0) [[unlikely]]
      mark_taken(slab, slab->free, taken);
    slab->free = b;
    // Then carve fresh blocks; untouched memory is never faulted in early.
    const uint32_t carve = std::min(want - chain.count - taken, slab->capacity - slab->carved);
    if (carve != 0) {
      char* p = slab->start + static_cast<size_t>(slab->carved) * block_size;
      if (slab->fresh) populate_carve(p, carve, block_size);
      for (uint32_t i = 0; i < carve; ++i, p += block_size) {
        auto* block = reinterpret_cast<FreeBlock*>(p);
        *link = block;
        link = &block->next;
        chain.tail = block;
      }
      slab->carved += carve;
      taken += carve;
    }
    slab->used += taken;
    chain.count += taken;
    if (slab->free == nullptr && slab->carved == slab->capacity) unlink_partial(slab);
  }
  *link = nullptr;
  if (chain.count == 0 && !may_grow) return chain;  // not a refill: the caller looks elsewhere first
  ClassCounters& counters = by_class_[size_class];
  note_direction(counters, ClassCounters::Last::kRefill);
  bump(counters.refills, 1);
  bump(counters.refilled_blocks, chain.count);
  return chain;
}

// The pages a carve of a fresh slab is about to touch, faulted in with one
// call. The carve writes a link at the start of each of its `count` blocks
// from p on, so with blocks of at most a page every page from p's to the
// last block's start is touched: one madvise(MADV_POPULATE_WRITE) instead
// of a page fault each (on this lab's VMs a fault costs about 14.6 us a
// page and a populate 8.3 a page, the difference being the kernel entry
// and exit a fault makes per page), and no page is made resident that the
// carve would not touch. Bigger blocks (mid classes above 4 KiB) have pages
// no link lands on, which the program may never touch: they fault as ever.
// The page holding p may hold an earlier carve's block and be resident: it
// is left to fault (if it still must) unless p starts it. A run of fewer
// than HAKMEM_POPULATE_PAGES pages is left to fault too: a call costs about
// what a fault does. A slab that was dirty at acquire (SlabMeta::fresh ==
// 0) has its pages resident, and a populate of resident pages costs 70 ns a
// page for nothing.
void ThreadHeap::populate_carve(char* p, uint32_t count, uint32_t block_size) {
  const auto min_pages = static_cast<uint64_t>(option_value(Option::kPopulatePages));
  if (min_pages == 0 || block_size > kPageSize) return;
  const uintptr_t first = reinterpret_cast<uintptr_t>(p);
  const uintptr_t last_link_end = first + static_cast<uintptr_t>(count - 1) * block_size + sizeof(FreeBlock*);
  const uintptr_t lo = (first + kPageSize - 1) & ~(uintptr_t{kPageSize} - 1);
  const uintptr_t hi = (last_link_end + kPageSize - 1) & ~(uintptr_t{kPageSize} - 1);
  if (hi < lo + min_pages * kPageSize) return;
  (void)superslabs_->pal().populate(reinterpret_cast<void*>(lo), hi - lo);  // refused: the pages fault as usual
}

// Blocks of a checked slab leave it: their free bits clear (superslab.h),
// so the user's next free of each is valid once.
void ThreadHeap::mark_taken(SlabMeta* slab, FreeBlock* first, uint32_t count) {
  for (FreeBlock* block = first; count != 0; block = block->next, --count) clear_free_bit(slab, block);
}

void* ThreadHeap::alloc_block(unsigned size_class) { return refill(size_class, 1).head; }  // refill enters

void ThreadHeap::free_local(SlabMeta* slab, FreeBlock* block, bool keep_last, SlabAge age) {
  block->next = slab->free;
  slab->free = block;
  if (--slab->used == 0) {
    const bool only_partial = slab->on_partial && slab->prev == nullptr && slab->next == nullptr;
    if (!(keep_last && only_partial)) {
      if (slab->on_partial) unlink_partial(slab);
      superslabs_->release_slab(slab, age);
      bump(slabs_released_, 1);
      return;
    }
  }
  if (!slab->on_partial) link_partial(slab);
}

void ThreadHeap::process_chain(FreeBlock* head, bool keep_last, SlabAge age) {
  uint64_t n = 0;
  while (head != nullptr) {
    FreeBlock* next = head->next;
    free_local(slab_of(head), head, keep_last, age);
    head = next;
    ++n;
  }
  bump(remote_received_, n);
}

void ThreadHeap::push_remote(ThreadHeap* owner, FreeBlock* head, FreeBlock* tail, uint32_t count, SlabAge age) {
  bump(remote_sent_, count);
  push_to_inbox(owner, head, tail, uint64_t{count} * kClassSize[slab_of(head)->size_class], age);
}

void ThreadHeap::push_to_inbox(ThreadHeap* owner, FreeBlock* head, FreeBlock* tail, uint64_t bytes, SlabAge age) {
  FreeBlock* old = owner->inbox_.load(std::memory_order_relaxed);
  do {
    tail->next = old;
  } while (!owner->inbox_.compare_exchange_weak(old, head, std::memory_order_seq_cst,
                                                std::memory_order_relaxed));
  owner->inbox_bytes_.fetch_add(bytes, std::memory_order_relaxed);
  if (owner->wants_collection()) owner->drain_while_idle(age);
}

void ThreadHeap::free_orphan(FreeBlock* block, SlabMeta* slab) {
  push_to_inbox(static_cast<ThreadHeap*>(slab->owner), block, block, kClassSize[slab->size_class]);
}

void ThreadHeap::collect_remote() {
  const Inside inside(this);
  collect_inside();
}

void ThreadHeap::collect_inside() {
  // Reset before the exchange: a push in between is over-counted (an early
  // collection), never forgotten.
  inbox_bytes_.store(0, std::memory_order_relaxed);
  FreeBlock* head = inbox_.exchange(nullptr, std::memory_order_seq_cst);
  if (head != nullptr) process_chain(head, /*keep_last=*/true, SlabAge::kFresh);
}

// An abandoned heap is collected at every push; a live one once its inbox
// holds HAKMEM_INBOX_DRAIN_KIB.
bool ThreadHeap::wants_collection() const {
  if (state_.load(std::memory_order_seq_cst) == kAbandoned) return true;
  const auto threshold = static_cast<uint64_t>(option_value(Option::kInboxDrainKib)) * 1024;
  return inbox_bytes_.load(std::memory_order_relaxed) >= threshold;
}

// Holding busy_ as a collector: an abandoned heap keeps no empty slab.
void ThreadHeap::collect_claimed(SlabAge age) {
  inbox_bytes_.store(0, std::memory_order_relaxed);
  FreeBlock* head = inbox_.exchange(nullptr, std::memory_order_seq_cst);
  const bool abandoned = state_.load(std::memory_order_relaxed) == kAbandoned;
  if (head != nullptr) process_chain(head, /*keep_last=*/!abandoned, age);
}

void ThreadHeap::drain_while_idle(SlabAge age) {
  while (try_claim()) {
    collect_claimed(age);
    busy_.store(0, std::memory_order_seq_cst);
    // A push that failed to claim while we were inside is seen here.
    if (inbox_.load(std::memory_order_seq_cst) == nullptr || !wants_collection()) return;
  }
}

bool ThreadHeap::trim_if_idle() {
  if (!try_claim()) return false;
  collect_claimed(SlabAge::kFresh);
  release_empty_inside();
  busy_.store(0, std::memory_order_seq_cst);
  if (inbox_.load(std::memory_order_seq_cst) != nullptr && wants_collection()) drain_while_idle();
  return true;
}

bool ThreadHeap::collect_if_idle() {
  if (inbox_.load(std::memory_order_relaxed) == nullptr || !try_claim()) return false;
  collect_claimed(SlabAge::kFresh);
  busy_.store(0, std::memory_order_seq_cst);
  if (inbox_.load(std::memory_order_seq_cst) != nullptr && wants_collection()) drain_while_idle();
  return true;
}

void ThreadHeap::spill(FreeBlock* head, SlabAge age) {
  if (head == nullptr) return;
  const Inside inside(this);
  ClassCounters& counters = by_class_[slab_of(head)->size_class];
  // Foreign blocks are batched per owner so each owner costs one CAS. Four
  // owners at a time covers the common cases (a consumer freeing for one or
  // two producers); more flushes early, which is correct, just more CASes.
  struct Batch {
    ThreadHeap* owner;
    FreeBlock* head;
    FreeBlock* tail;
    uint32_t count;
  };
  constexpr unsigned kMaxBatches = 4;
  Batch batches[kMaxBatches];
  unsigned used_batches = 0;
  uint64_t n = 0;
  while (head != nullptr) {
    FreeBlock* block = head;
    head = head->next;
    ++n;
    SlabMeta* slab = slab_of(block);
    // A tiny free's only check off the fast path (interior pointers; a
    // double free needs HAKMEM_DEBUG=1): before the block touches a slab.
    if (!is_block_start(block, slab->size_class)) [[unlikely]]
      report_invalid_free(block, kInteriorPointer);
    // A checked slab's block (mid, or tiny under HAKMEM_DEBUG >= 1) is free
    // again from here: its free bit is set as it leaves the front end, as
    // refill cleared it when the block went out (a mid free was checked by
    // the cache's free mark; a bit already set is a free of a block that
    // was never handed out again).
    if (slab->checked && set_free_bit(slab, block)) [[unlikely]]
      report_invalid_free(block, kDoubleFree);
    auto* owner = static_cast<ThreadHeap*>(slab->owner);
    if (owner == this) {
      free_local(slab, block, /*keep_last=*/true, age);
      continue;
    }
    unsigned i = 0;
    while (i < used_batches && batches[i].owner != owner) ++i;
    if (i == used_batches) {
      if (used_batches == kMaxBatches) {
        for (unsigned j = 0; j < used_batches; ++j)
          push_remote(batches[j].owner, batches[j].head, batches[j].tail, batches[j].count, age);
        used_batches = 0;
        i = 0;
      }
      batches[i] = {owner, block, block, 0};
      block->next = nullptr;
      ++used_batches;
    } else {
      block->next = batches[i].head;
      batches[i].head = block;
    }
    ++batches[i].count;
  }
  for (unsigned j = 0; j < used_batches; ++j)
    push_remote(batches[j].owner, batches[j].head, batches[j].tail, batches[j].count, age);
  bump(counters.spilled_blocks, n);
  note_direction(counters, ClassCounters::Last::kSpill);
  bump(counters.spills, 1);
}

void ThreadHeap::free_block(FreeBlock* block, SlabMeta* slab) {
  const Inside inside(this);
  bump(by_class_[slab->size_class].freed_blocks, 1);
  auto* owner = static_cast<ThreadHeap*>(slab->owner);
  if (owner == this) {
    free_local(slab, block, /*keep_last=*/true);
  } else {
    block->next = nullptr;
    push_remote(owner, block, block, 1, SlabAge::kFresh);
  }
}

void ThreadHeap::release_empty_slabs() {
  const Inside inside(this);
  release_empty_inside();
}

void ThreadHeap::release_empty_inside() {
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    SlabMeta* slab = partial_[c];
    while (slab != nullptr) {
      SlabMeta* next = slab->next;
      if (slab->used == 0) {
        unlink_partial(slab);
        superslabs_->release_slab(slab);
        bump(slabs_released_, 1);
      }
      slab = next;
    }
  }
}

void ThreadHeap::abandon() {
  {
    const Inside inside(this);
    collect_inside();
    release_empty_inside();
    state_.store(kAbandoned, std::memory_order_seq_cst);
  }
  // A push that saw kActive just before the store is drained here.
  drain_while_idle();
}

void ThreadHeap::adopt() {
  const Inside inside(this);  // waits for a collector to finish
  state_.store(kActive, std::memory_order_seq_cst);
}

HeapStats ThreadHeap::stats() const {
  constexpr auto r = std::memory_order_relaxed;
  HeapStats s;
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    const ClassStats cs = class_stats(c);
    s.refills += cs.refills;
    s.refilled_blocks += cs.refilled_blocks;
    s.spilled_blocks += cs.spilled_blocks;
  }
  s.remote_blocks_sent = remote_sent_.load(r);
  s.remote_blocks_received = remote_received_.load(r);
  s.slabs_acquired = slabs_acquired_.load(r);
  s.slabs_released = slabs_released_.load(r);
  return s;
}

uint64_t ThreadHeap::activity() const {
  constexpr auto r = std::memory_order_relaxed;
  uint64_t sum = 0;
  for (const ClassCounters& c : by_class_) sum += c.refills.load(r) + c.spills.load(r);
  return sum;
}

ClassStats ThreadHeap::class_stats(unsigned size_class) const {
  constexpr auto r = std::memory_order_relaxed;
  const ClassCounters& c = by_class_[size_class];
  return {c.refills.load(r), c.refilled_blocks.load(r), c.spilled_blocks.load(r), c.freed_blocks.load(r),
          c.spills.load(r), c.turns.load(r)};
}

void ThreadHeap::check() {
  const Inside inside(this);
  superslabs_->check(this);
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    const SlabMeta* prev = nullptr;
    for (const SlabMeta* slab = partial_[c]; slab != nullptr; prev = slab, slab = slab->next) {
      if (slab->owner != this || slab->size_class != c || !slab->on_partial || slab->prev != prev) {
        fatal("heap %p class %u: partial list corrupt at slab %p", static_cast<const void*>(this), c,
              static_cast<const void*>(slab));
      }
      if (block_class(slab->start) != c) {
        fatal("heap %p class %u: slab %p has class byte %u", static_cast<const void*>(this), c,
              static_cast<const void*>(slab), block_class(slab->start));
      }
      uint32_t free_count = 0;
      for (const FreeBlock* b = slab->free; b != nullptr; b = b->next) {
        const auto offset = reinterpret_cast<const char*>(b) - slab->start;
        if (offset < 0 || offset >= static_cast<ptrdiff_t>(kSlabSize) ||
            offset % kClassSize[c] != 0 ||
            static_cast<uint32_t>(offset / kClassSize[c]) >= slab->carved) {
          fatal("heap %p class %u: slab %p free list holds stray block %p", static_cast<const void*>(this),
                c, static_cast<const void*>(slab), static_cast<const void*>(b));
        }
        if (++free_count > slab->capacity) fatal("slab %p: free list cycle", static_cast<const void*>(slab));
      }
      if (slab->used + free_count != slab->carved || slab->carved > slab->capacity ||
          free_count + slab->capacity - slab->carved == 0) {
        fatal("heap %p class %u slab %p: used %u + free %u != carved %u (capacity %u)",
              static_cast<const void*>(this), c, static_cast<const void*>(slab), slab->used, free_count,
              slab->carved, slab->capacity);
      }
    }
  }
}

}  // namespace hakmem
