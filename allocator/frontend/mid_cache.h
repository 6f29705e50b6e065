// MidCache: every variant's per-thread cache of free mid blocks (classes
// 20..39, 1.25 to 32 KiB) in front of the thread heap, so that a mid malloc
// or free is a free-list pop or push, as a tiny one is. Allocator reaches it
// from malloc_slow and free_slow: the variants' inlined tiny fast paths
// stay as they are.
//
//   alloc: the class's list has a block -> pop it, clear its free mark
//          else alloc_slow: refill one batch from the thread heap (a slab's
//               worth, at most kMaxBatch blocks; no more than the limit)
//   free:  p is inside a block or carries the free mark -> report, abort
//          the list is below its limit -> mark, push
//          else free_slow: raise the limit from the budget (when it is
//               spent: first from the other classes' idle blocks, then
//               from the class that holds the most), or spill the list's
//               colder half to the heap; push
//
// Bounded in bytes, not only in count. Each class's list has a count limit,
// and the limits are shares of one byte budget: the sum over the classes of
// limit * size stays within HAKMEM_MID_CACHE_KIB (1 MiB a thread). So a
// 32 KiB class holds at most 32 blocks and a 1.25 KiB class 819, while the
// fast paths compare a count with a limit, as a tiny free list does, and
// never add up bytes. A limit starts at 0 and rises by a batch each time its
// list overflows (tcmalloc's slow start), so a class used once takes one
// batch of the budget, not all of it. Once the budget is spent, a class
// whose list overflows takes share in two steps, so that no class hoards
// what another needs:
//   1. idle blocks: every other class lowers its limit by half the blocks
//      it has held since the last such pass without handing any out (its
//      low-water mark: the fewest blocks its list held since then; the
//      bottom of a LIFO list below that mark was never touched), spilling
//      those that no longer fit (a limit above the count gives back its
//      unused slots first), as tcmalloc's thread cache scavenges by its
//      lists' low water. A class a program used once (a start-up burst)
//      keeps nothing after a few passes, whatever its size. A pass runs
//      only once the
//      cache has moved a whole budget of bytes to and from the heap since
//      the last one (refills and spills: its slow paths' own clock, with
//      no time read), so "idle" means unused while the cache turned over
//      its budget, not merely between two overflows close together: two
//      classes used in turns, whose sum exceeds the budget, otherwise took
//      each other's blocks at every turn (36 blocks moved a round instead
//      of 8 with step 2 alone, in mid_cache_test's
//      AClassInUseKeepsItsBlocksWhenAnotherNeedsShare);
//   2. if that freed nothing, the class holding the largest share gives up
//      half of it (its coldest blocks spill home), unless that is the
//      overflowing class itself, which then spills its own colder half.
// Without step 1 a class that was used once and then sat idle held its
// share for ever, whenever the busy class was the largest: 271 KiB of
// 1.25-4 KiB blocks cached by a regex compiled at start-up left the
// microbenchmark's 100 live 8 KiB blocks 94 slots, so every batch spilled
// half its list and refilled it (2.2x tcmalloc's time per pair). The
// low-water mark costs the pop a compare; tcmalloc's lists pay the same.
// tcmalloc also steals budget from other threads' caches; here the budget
// is per thread, so the decision stays local.
//
// Double frees and interior pointers are still caught at free time, without
// an atomic on the path. A mid block in its slab (or in its owner's inbox)
// has its free bit set (superslab.h); one taken out for a cache has it
// clear. A block in a cache carries a free mark instead: the word after its
// link (below) is its address xor kFreeMark, written as it enters a list,
// cleared as it leaves for the user. A free that finds the mark is a double
// free, whether the block sits in this cache, in another thread's, or went
// home since (the mark stays until the block is handed out again; the free
// bit catches that case too). User data matches the mark only by writing
// the block's own address xor a 64-bit constant at its colour plus 8. An
// interior pointer is caught before anything is written (is_block_start: a
// multiply, no metadata read).
//
// Colour. A cached block's two words, its link and its free mark, sit at
// its colour: an offset of 0 to 960 bytes, a cache line apart, taken from
// bits 15-18 of its address (so every block of one 32 KiB window has the
// same colour, and 16 windows in a row have 16 colours). At offset 0 they
// aliased: every block of a class that is a multiple of 4 KiB starts in
// the same set of the first-level data cache (64 sets of 64 B: address
// bits 6-11; 48 KiB, 12-way here), 2-4 KiB classes in 2 to 8 sets, so 100
// live 8 KiB blocks competed for 12 lines, and nearly every pop (the link)
// and free (the mark) missed it (callgrind --cache-sim: 1.8-1.9 misses per
// 8 KiB pair, as many as tcmalloc's, whose free writes its link at offset
// 0). Coloured, N blocks of a class from 2 to 32 KiB put at most about N / 16
// of their lines in any set: the microbenchmark's 100 fit, with no miss.
// It costs the pop three instructions (copy, shift, mask) and the free
// four (and an add): 89 instead of 82 per 8 KiB pair, with no miss instead
// of 1.8; the refill and the spill pay a pass over their chains to relink
// them (the heap links its blocks at offset 0). The smallest class,
// 1.25 KiB, has room for both words at the largest colour.
//
// With HAKMEM_MID_CACHE_KIB=0 every limit stays 0: every mid malloc is a
// refill of one block and every free goes to the heap, as before the cache.
#pragma once

#include <cstdint>

#include "allocator/backend/class_map.h"
#include "allocator/backend/superslab.h"
#include "allocator/config/size_classes.h"
#include "allocator/pools/thread_heap.h"

namespace hakmem {

// Invariants (the owning thread's alone: no other thread touches it):
//   for every mid class c, with its list L = list(c):
//     L.count == length(L.head) <= L.limit;
//     every block on L is of class c, free, counted used by its slab, with
//       its free bit clear and, at its colour (words_of(block)), its link
//       to the next block on L, then mark_of(block);
//     low_water(c) <= L.count, and the low_water(c) blocks at the bottom
//       of L (the earliest pushed) have stayed on L since the last
//       release_idle (pops take from the top, so none of them was popped);
//   reserved == sum over mid classes c of list(c).limit * kClassSize[c]
//            <= budget,
//   so the bytes cached, the sum of count * size, never exceed budget.
// A zeroed cache (before the thread's first slow path, after its exit) has
// budget 0 and every limit 0: every push fails and every pop misses.
// Layout serves the fast paths: a list and its low-water mark are 32
// bytes (head, count, limit, low_water), two to a line, so the pop's
// compare addresses the mark from the list it just popped. Not a FreeList:
// its links are at the blocks' colours, not at offset 0.
struct alignas(32) MidList {
  FreeBlock* head;
  uint32_t count;
  uint32_t limit;
  uint32_t low_water;
};
static_assert(sizeof(MidList) == 32);

struct MidCache {
  MidList lists[kMidClasses];
  uint64_t reserved;
  uint64_t budget;
  uint64_t moved;  // bytes refilled and spilled since the last release_idle

  // A refill, and a limit's step, move a slab's worth of blocks (64 KiB),
  // at most 32 (1.25 to 2 KiB classes hold more): 2 blocks of 32 KiB, 8 of
  // 8 KiB. Larger batches would pin more slabs for one thread.
  static constexpr uint32_t kMaxBatch = 32;
  static constexpr uint32_t batch(unsigned size_class) {
    return class_capacity(size_class) < kMaxBatch ? class_capacity(size_class) : kMaxBatch;
  }

  // An arbitrary 64-bit constant with no structure ("HKmidfre" in ASCII).
  static constexpr uintptr_t kFreeMark = 0x4b48'6d69'6466'7265;
  [[gnu::always_inline]] static uintptr_t mark_of(const FreeBlock* block) {
    return reinterpret_cast<uintptr_t>(block) ^ kFreeMark;
  }

  // Colour (header): address bits 15-18 as an offset in cache lines, so a
  // shift and a mask: (p >> 9) & 0x3c0.
  static constexpr unsigned kColourShift = 15 - 6;
  static constexpr uintptr_t kColourMask = 15 * 64;
  static_assert(kColourMask + 2 * sizeof(uintptr_t) <= kClassSize[kTinyClasses], "both words fit every mid block");
  [[gnu::always_inline]] static uintptr_t colour(const void* block) {
    return (reinterpret_cast<uintptr_t>(block) >> kColourShift) & kColourMask;
  }
  // A cached block's two words: [0] its link, [1] its free mark.
  [[gnu::always_inline]] static uintptr_t* words_of(void* block) {
    return reinterpret_cast<uintptr_t*>(static_cast<char*>(block) + colour(block));
  }
  [[gnu::always_inline]] static FreeBlock*& link(FreeBlock* block) {
    return *reinterpret_cast<FreeBlock**>(words_of(block));
  }
  [[gnu::always_inline]] static uintptr_t& mark_word(FreeBlock* block) { return words_of(block)[1]; }
  // A mid block handed to the user by any path but try_alloc (a late
  // thread's malloc) loses a mark it may carry from an earlier life.
  [[gnu::always_inline]] static void clear_mark(void* block) { mark_word(static_cast<FreeBlock*>(block)) = 0; }

  // size_t arithmetic, so the compiler folds - kTinyClasses into the
  // address (unsigned wrap-around would keep a subtraction).
  [[gnu::always_inline]] MidList& list(unsigned size_class) { return lists[size_t{size_class} - kTinyClasses]; }
  [[gnu::always_inline]] uint32_t& low_water(unsigned size_class) { return list(size_class).low_water; }

  // Fast path: a block of mid class size_class, or nullptr (a miss).
  [[gnu::always_inline]] void* try_alloc(unsigned size_class) {
    MidList& l = list(size_class);
    FreeBlock* block = l.head;
    if (block != nullptr) [[likely]] {
      l.head = link(block);
      --l.count;
      mark_word(block) = 0;
      if (l.count < l.low_water) [[unlikely]]
        l.low_water = l.count;
    }
    return block;
  }

  // Fast path: every free of a mid block comes here first. Caches a valid
  // block whose list has room, marked; false for anything else (a full
  // list, or a bad free that check_free then reports). Reporting from
  // here would cost the caller a stack frame on every free.
  [[gnu::always_inline]] bool try_free(FreeBlock* block, unsigned size_class) {
    if (!is_block_start(block, size_class)) [[unlikely]]
      return false;
    uintptr_t* words = words_of(block);
    const uintptr_t mark = mark_of(block);
    MidList& l = list(size_class);
    if (words[1] == mark || l.count >= l.limit) [[unlikely]]
      return false;
    push(l, block, words);
    // After the push's store to l.head: written next to words[0], GCC
    // merged the two stores into four SSE instructions.
    words[1] = mark;
    return true;
  }

  // A mid free that try_free declined: aborts with one line for an
  // interior pointer or a double free (the free mark), else marks the
  // block, which may go on to the heap with its mark: harmless, see above.
  static void check_free(FreeBlock* block, unsigned size_class) {
    if (!is_block_start(block, size_class)) [[unlikely]]
      report_invalid_free(block, kInteriorPointer);
    uintptr_t& word = mark_word(block);
    if (word == mark_of(block)) [[unlikely]]
      report_invalid_free(block, kDoubleFree);
    word = mark_of(block);
  }

  // A thread's first slow path: budget_bytes for the whole cache.
  void init(uint64_t budget_bytes);

  // A miss: refills the class's list from heap and returns one block for
  // the user; nullptr when the OS refuses memory.
  void* alloc_slow(ThreadHeap& heap, unsigned size_class);

  // After try_free found the list full: raises its limit or makes room,
  // then caches block. False when the budget cannot hold one block of the
  // class (HAKMEM_MID_CACHE_KIB=0, or below the class size): the caller
  // gives the block to the heap itself.
  bool free_slow(ThreadHeap& heap, FreeBlock* block, unsigned size_class);

  // Gives every cached block back through heap (home to their slabs) and
  // lets every limit start again from 0; the budget stays (a live thread
  // may be trimmed).
  void flush(ThreadHeap& heap);

  // The bytes its lists hold.
  uint64_t bytes() const;

 private:
  // Raises the limit of size_class by up to one batch from the budget's
  // unreserved part. With a heap (a free), a spent budget first takes
  // share from the other classes' idle blocks (release_idle), then from
  // the class holding the most, if it holds more than this one. True if
  // the limit rose.
  bool raise_limit(unsigned size_class, ThreadHeap* heap);

  // Step 1 of taking share (header), once `moved` has reached the budget:
  // every class but size_class with idle blocks lowers its limit by half
  // of them (rounded up), spilling its coldest blocks beyond the new
  // limit; then every low-water mark restarts at its list's count. True
  // if any share was given back.
  bool release_idle(ThreadHeap& heap, unsigned size_class);

  // Lowers the limit of size_class to new_limit, spilling the blocks
  // beyond it (the coldest) through heap.
  void lower_limit(ThreadHeap& heap, unsigned size_class, uint32_t new_limit);

  // Keeps the `keep` hottest blocks of size_class's list and spills the
  // rest through heap; the low-water mark follows the count down.
  void spill_beyond(ThreadHeap& heap, unsigned size_class, uint32_t keep);

  // Keeps the `keep` hottest blocks of size_class's list and returns the
  // rest as a nullptr-terminated chain linked at offset 0, as the heap
  // links its blocks (their marks stay).
  FreeBlock* split_after(unsigned size_class, uint32_t keep);

  // Puts block, whose words are at `words`, on top of l (below its limit);
  // the caller writes the mark.
  [[gnu::always_inline]] static void push(MidList& l, FreeBlock* block, uintptr_t* words) {
    words[0] = reinterpret_cast<uintptr_t>(l.head);
    l.head = block;
    ++l.count;
  }

  uint64_t share(unsigned size_class) { return uint64_t{list(size_class).limit} * kClassSize[size_class]; }
};

}  // namespace hakmem
