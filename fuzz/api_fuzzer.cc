// The fuzz target of one hakmem variant (hakmem::ThisVariant; fuzz/defs.bzl
// compiles it once per variant): each input is a program of calls to the
// variant's whole API, the direct C++ one (Allocator<Policy>: malloc, free,
// calloc, realloc, aligned_alloc, usable_size, flush_thread_cache, trim)
// and glibc's extensions over it (memalign, posix_memalign, reallocarray:
// allocator/override/glibc_ops.h), run against the shadow model (shadow.h):
// every live block carries its own pattern, checked before every free and
// realloc; alignment, usable_size >= the request, calloc's zeroes,
// realloc's kept bytes, the errors of impossible requests and free keeping
// errno are checked as each call returns. A mismatch aborts with one line.
//
// The same source is the libFuzzer binary (clang, --config=fuzz) and,
// with replay_main.cc, the gcc cc_test that replays the committed corpus.
//
// An input is a sequence of operations. An operation's first byte is
// (slot << 4) | opcode, its operands follow (input.h):
//   0-1 malloc        3 calloc           4 realloc          5-6 free
//   2 a burst: 1-256 blocks of one size onto the shared pile
//   7 free 1-256 blocks of the pile, newest or oldest first
//   8 aligned_alloc, memalign or posix_memalign (valid and invalid alignments)
//   9 reallocarray    10 usable_size and a check of the block
//   11 give: the slot's block to a shared slot
//   12 take: a shared slot's block into the slot (and check it)
//   13 hand the turn to another thread
//   14 flush_thread_cache or trim
//   15 an impossible request: NULL with ENOMEM, every block left alone
//
// Threads: up to four (the calling thread and three workers started when
// first given the turn) take turns: exactly one runs at a time and
// operation 13 hands the turn on, so a run is deterministic given its
// input. Each thread has 16 slots of its own; blocks travel between
// threads through 4 shared slots, so frees, reallocs and checks happen on
// threads that did not allocate the block, and workers exit (their heaps
// abandoned, later adopted) while their blocks live on elsewhere. The
// pile, shared too, holds blocks by the hundred (up to 4096 of at most
// 4 KiB), so a few bytes of input fill and drain thread caches, slabs and
// remote-free inboxes past their limits. At the end the calling thread
// frees every block left. A single-thread variant
// (bound) runs everything on the calling thread and gets sizes up to its
// limit (its kLimits).
#include <bit>
#include <cerrno>
#include <condition_variable>
#include <cstdarg>
#include <cstdint>
#include <cstdio>
#include <deque>
#include <mutex>
#include <thread>

#include "allocator/override/glibc_ops.h"
#include "fuzz/input.h"
#include "fuzz/shadow.h"
#include "hakmem/variant.h"

namespace hakmem_fuzz {
namespace {

using A = hakmem::ThisVariant;

constexpr int kThreads = A::kLimits.single_thread ? 1 : 4;
constexpr int kSlots = 16;  // per thread: the high nibble of an operation
constexpr int kShared = 4;
constexpr size_t kPileMax = 4096;
constexpr size_t kPileBlockMax = 4096 < A::kLimits.max_size ? 4096 : A::kLimits.max_size;
constexpr size_t kMaxSize = A::kLimits.max_size;
// Stands for free()'s caller's errno, which free must keep.
constexpr int kErrnoBeforeFree = 4242;

// A request no variant can serve: past the 47-bit address space, or
// (with calloc and reallocarray) past SIZE_MAX; for a variant with a size
// limit, also just past it.
size_t impossible_size(uint8_t pick) {
  constexpr size_t kHuge[] = {SIZE_MAX, SIZE_MAX - 4095, SIZE_MAX / 2 + 1, size_t{1} << 60, size_t{1} << 48};
  if (kMaxSize != SIZE_MAX && pick % 6 == 5) return kMaxSize + 1;
  return kHuge[pick % 5];
}

// A call as the failure message names it, e.g. "realloc(0x7f.., 300)".
struct Call {
  char text[128];
  __attribute__((format(printf, 2, 3))) explicit Call(const char* format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(text, sizeof text, format, args);
    va_end(args);
  }
  operator const char*() const { return text; }
};

class Run {
 public:
  Run(const uint8_t* data, size_t size) : in_(data, size), shadow_(A::kName) {}

  // Runs the input to its end on the calling thread and the workers it
  // names, joins them, then frees every block still live.
  void go() {
    take_turns(0);
    for (std::thread& w : workers_)
      if (w.joinable()) w.join();
    for (auto& own : slots_)
      for (Block& b : own) release("free at the end", b);
    for (Block& b : shared_) release("free at the end", b);
    for (Block& b : pile_) release("free at the end", b);
  }

 private:
  // The body of every thread: wait for the turn, run operations until one
  // hands the turn on (starting that worker if it has not run yet) or the
  // input ends (then everyone stops).
  void take_turns(int me) {
    std::unique_lock lock(mutex_);
    for (;;) {
      turn_changed_.wait(lock, [&] { return turn_ == me || done_; });
      if (done_) return;
      lock.unlock();
      int next = -1;
      while (next < 0 && !in_.empty()) next = step(me);
      lock.lock();
      if (next < 0) {
        done_ = true;
        turn_changed_.notify_all();
        return;
      }
      if (next != 0 && !workers_[next].joinable()) workers_[next] = std::thread(&Run::take_turns, this, next);
      turn_ = next;
      turn_changed_.notify_all();
    }
  }

  // One operation on thread `me`. Returns the thread to hand the turn to,
  // or -1 to go on.
  int step(int me) {
    const uint8_t op = in_.byte();
    Block& slot = slots_[me][op >> 4];
    switch (op & 15) {
      case 0:
      case 1: {
        release("free", slot);
        const size_t n = in_.size(kMaxSize);
        void* p = A::malloc(n);
        slot = adopt(Call("malloc(%zu)", n), p, n, 16);
        break;
      }
      case 3: {
        release("free", slot);
        const size_t count = in_.byte() % 17;
        const size_t each = in_.size(kMaxSize) / (count > 0 ? count : 1);
        void* p = A::calloc(count, each);
        slot = adopt(Call("calloc(%zu, %zu)", count, each), p, count * each, 16, /*zeroed=*/true);
        break;
      }
      case 4: {
        const size_t n = in_.size(kMaxSize);
        reallocate(slot, Call("realloc(%p, %zu)", static_cast<void*>(slot.p), n), n,
                   [&] { return A::realloc(slot.p, n); });
        break;
      }
      case 2: {
        const size_t count = 1 + in_.byte();
        const size_t n = in_.size(kPileBlockMax);
        for (size_t i = 0; i < count && pile_.size() < kPileMax; ++i)
          pile_.push_back(adopt(Call("malloc(%zu) of a burst", n), A::malloc(n), n, 16));
        break;
      }
      case 5:
      case 6:
        release("free", slot);
        break;
      case 7: {
        const size_t count = 1 + in_.byte();
        const bool oldest_first = op & 0x10;
        for (size_t i = 0; i < count && !pile_.empty(); ++i) {
          Block& b = oldest_first ? pile_.front() : pile_.back();
          release("free of a burst", b);
          if (oldest_first) pile_.pop_front();
          else pile_.pop_back();
        }
        break;
      }
      case 8:
        aligned(slot);
        break;
      case 9: {
        const size_t count = in_.byte() % 17;
        const size_t each = in_.size(kMaxSize) / (count > 0 ? count : 1);
        reallocate(slot, Call("reallocarray(%p, %zu, %zu)", static_cast<void*>(slot.p), count, each), count * each,
                   [&] { return hakmem::reallocarray_of<A>(slot.p, count, each); });
        break;
      }
      case 10:
        if (slot.live()) {
          const size_t usable = A::usable_size(slot.p);
          if (usable != slot.usable)
            shadow_.fail("usable_size(%p) of block #%llu is %zu, was %zu when it was allocated",
                         static_cast<void*>(slot.p), static_cast<unsigned long long>(slot.id), usable, slot.usable);
          shadow_.check("a check", slot);
        }
        break;
      case 11: {
        Block& shared = shared_[in_.byte() % kShared];
        if (slot.live()) {
          release("free of a shared block given over", shared);
          shared = slot;
          slot = {};
        }
        break;
      }
      case 12: {
        Block& shared = shared_[in_.byte() % kShared];
        if (shared.live()) {
          release("free", slot);
          slot = shared;
          shared = {};
          shadow_.check("taking a block from another thread", slot);
        }
        break;
      }
      case 13: {
        const int next = (op >> 4) % kThreads;
        if (next != me) return next;
        break;
      }
      case 14:
        if (op & 0x10) A::trim();
        else A::flush_thread_cache();
        break;
      case 15:
        impossible(slot);
        break;
    }
    return -1;
  }

  // A block a call returned for a request the variant serves.
  Block adopt(const char* call, void* p, size_t n, size_t align, bool zeroed = false) {
    if (p == nullptr) shadow_.fail("%s returned NULL (errno %d) for a request the variant serves", call, errno);
    return shadow_.adopt(call, p, n, align, A::usable_size(p), zeroed);
  }

  // Checks and frees the slot's block, if any; free must keep errno.
  void release(const char* call, Block& b) {
    if (!b.live()) return;
    shadow_.check(call, b);
    shadow_.forget(b);
    errno = kErrnoBeforeFree;
    A::free(b.p);
    if (errno != kErrnoBeforeFree) shadow_.fail("free(%p) changed errno to %d", static_cast<void*>(b.p), errno);
    b = {};
  }

  // realloc and reallocarray (`call_it`) of the slot's block (or of NULL)
  // to n bytes: the first min(old, new) bytes are kept; n == 0 frees a
  // block and returns NULL (glibc), but realloc(NULL, 0) is malloc(0).
  template <class F>
  void reallocate(Block& slot, const char* call, size_t n, F call_it) {
    if (!slot.live()) {
      slot = adopt(call, call_it(), n, 16);
      return;
    }
    shadow_.check(call, slot);
    const Block old = slot;
    void* q = call_it();
    shadow_.forget(old);
    slot = {};
    if (n == 0) {
      if (q != nullptr) shadow_.fail("%s returned %p, not NULL: a realloc to 0 frees", call, q);
      return;
    }
    if (q == nullptr) shadow_.fail("%s returned NULL (errno %d) for a request the variant serves", call, errno);
    shadow_.check_prefix(call, old, static_cast<unsigned char*>(q), old.requested < n ? old.requested : n);
    slot = adopt(call, q, n, 16);
  }

  // aligned_alloc, memalign or posix_memalign of an alignment the input
  // picks, valid or not, into the slot.
  void aligned(Block& slot) {
    release("free", slot);
    const uint8_t kind = in_.byte() % 3;
    size_t align = in_.alignment();
    if (align > kMaxSize) align = kMaxSize;  // the single-thread bound: its classes' alignment at most
    const size_t n = in_.size(kMaxSize);
    const bool power_of_two = std::has_single_bit(align);
    if (kind == 0) {
      const Call call("aligned_alloc(%zu, %zu)", align, n);
      errno = 0;
      void* p = A::aligned_alloc(align, n);
      if (power_of_two) slot = adopt(call, p, n, align);
      else if (p != nullptr || errno != EINVAL)
        shadow_.fail("%s returned %p with errno %d, not NULL with EINVAL", static_cast<const char*>(call), p, errno);
    } else if (kind == 1) {
      // glibc's memalign: up to 16 is malloc, else rounded up to a power of two.
      const Call call("memalign(%zu, %zu)", align, n);
      slot = adopt(call, hakmem::memalign_of<A>(align, n), n, align <= 16 ? 16 : std::bit_ceil(align));
    } else {
      const Call call("posix_memalign(&p, %zu, %zu)", align, n);
      void* p = &slot;  // must stay untouched on failure
      const int error = hakmem::posix_memalign_of<A>(&p, align, n);
      if (power_of_two && align % sizeof(void*) == 0) {
        if (error != 0) shadow_.fail("%s returned %d for a request the variant serves", static_cast<const char*>(call), error);
        slot = adopt(call, p, n, align);
      } else if (error != EINVAL || p != &slot) {
        shadow_.fail("%s returned %d and set p to %p, not EINVAL leaving p alone", static_cast<const char*>(call),
                     error, p);
      }
    }
  }

  // A request that must fail with ENOMEM and change nothing: a block
  // passed to realloc stays live and intact.
  void impossible(Block& slot) {
    const uint8_t kind = in_.byte() % 6;
    const size_t huge = impossible_size(in_.byte());
    void* before = slot.p;
    void* p = nullptr;
    int error = 0;
    errno = 0;
    switch (kind) {
      case 0: p = A::malloc(huge); break;
      case 1: p = A::calloc(huge, 16); break;
      case 2: p = A::realloc(slot.p, huge); break;
      case 3: p = A::aligned_alloc(64, huge); break;
      case 4: {
        void* out = &slot;
        error = hakmem::posix_memalign_of<A>(&out, 64, huge);
        if (out != &slot) shadow_.fail("posix_memalign(&p, 64, %zu) failed but set p to %p", huge, out);
        break;
      }
      case 5: p = hakmem::reallocarray_of<A>(slot.p, huge, 2); break;
    }
    static constexpr const char* kNames[] = {"malloc", "calloc(huge, 16)", "realloc", "aligned_alloc(64, huge)",
                                             "posix_memalign(64, huge)", "reallocarray(p, huge, 2)"};
    if (kind == 4 ? error != ENOMEM : (p != nullptr || errno != ENOMEM))
      shadow_.fail("%s of %zu bytes returned %p, error %d, errno %d: not NULL with ENOMEM", kNames[kind], huge, p,
                   error, errno);
    if (slot.live()) {
      if (slot.p != before) shadow_.fail("internal: the slot moved");
      shadow_.check(kNames[kind], slot);
    }
  }

  Input in_;
  Shadow shadow_;
  Block slots_[kThreads][kSlots];
  Block shared_[kShared];
  std::deque<Block> pile_;
  std::thread workers_[kThreads];  // [0] unused: thread 0 is the caller
  std::mutex mutex_;
  std::condition_variable turn_changed_;
  int turn_ = 0;
  bool done_ = false;
};

}  // namespace
}  // namespace hakmem_fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  hakmem_fuzz::Run(data, size).go();
  return 0;
}
