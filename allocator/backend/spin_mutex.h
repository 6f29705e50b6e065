// SpinMutex: the back end's lock for short critical sections that two
// threads take at a high rate: the SuperSlab manager's slab hand-out and
// return. (The L25 span manager tried it and went back to std::mutex:
// l25_spans.h says why.)
//
// Why not std::mutex: glibc's default mutex puts a waiter to sleep on the
// first failed attempt. These critical sections last well under a
// microsecond, so a sleeping waiter pays a futex wait, a context switch and
// a futex wake for a lock that would have been free a few hundred cycles
// later. growth at 2 threads made 246 futex calls under hakmem (strace -f
// -c) against mimalloc's 16, nearly all on the SuperSlab and L25 span
// managers' locks (strace -k).
//
// What it does: one compare-exchange when free (the common case); else it
// spins, reading the word and pausing, for a bounded number of rounds, as
// jemalloc's malloc_mutex does before it blocks; then it sleeps on a futex,
// so a holder that was descheduled costs the waiter no more than std::mutex
// would. State: 0 free, 1 held, 2 held with possible sleepers (the classic
// three-state futex lock), so an unlock without sleepers makes no system
// call.
//
// Constant-initialisable (the SuperSlab manager is), and a fork child resets it
// by constructing it again, as for std::mutex. Its futex calls bypass the
// Pal as std::mutex's did: a lock is not memory the OS hands out, and no
// test needs to count or refuse one.
#pragma once

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>

namespace hakmem {

class SpinMutex {
 public:
  constexpr SpinMutex() = default;
  SpinMutex(const SpinMutex&) = delete;
  SpinMutex& operator=(const SpinMutex&) = delete;

  void lock() {
    uint32_t expected = 0;
    if (state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed)) [[likely]]
      return;
    lock_slow();
  }

  bool try_lock() {
    uint32_t expected = 0;
    return state_.compare_exchange_strong(expected, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }

  void unlock() {
    if (state_.exchange(0, std::memory_order_release) == 2) [[unlikely]]
      wake_one();
  }

 private:
  // Rounds of read-and-pause before sleeping: 1-5 us (a pause takes 10 to
  // 140 cycles by CPU model), longer than the managers' critical sections
  // and shorter than a sleep and wake-up.
  static constexpr int kSpinRounds = 64;

  [[gnu::cold, gnu::noinline]] void lock_slow() {
    for (int i = 0; i < kSpinRounds; ++i) {
      __builtin_ia32_pause();
      if (state_.load(std::memory_order_relaxed) == 0 && try_lock()) return;
    }
    // Sleep until the word is free; whoever takes it from here marks it 2,
    // since other sleepers may remain.
    while (state_.exchange(2, std::memory_order_acquire) != 0) {
      syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAIT_PRIVATE, 2, nullptr, nullptr, 0);
    }
  }

  [[gnu::cold, gnu::noinline]] void wake_one() {
    syscall(SYS_futex, reinterpret_cast<uint32_t*>(&state_), FUTEX_WAKE_PRIVATE, 1, nullptr, nullptr, 0);
  }

  std::atomic<uint32_t> state_{0};
};

}  // namespace hakmem
