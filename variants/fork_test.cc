// fork() with hakmem as the allocator (issue 11, defect 1), compiled once
// per variant by hakmem_variant() against hakmem::ThisVariant. Each child
// runs under a deadline (lab::run_in_child), so a child that hangs on a lock
// another thread held at fork time fails the test instead of stalling it.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <thread>
#include <vector>

#include "allocator/pools/heap_registry.h"
#include "common/child_process.h"
#include "common/sanitizer.h"
#include "hakmem/variant.h"

namespace hakmem {
namespace {

using A = ThisVariant;
using namespace std::chrono_literals;

// ThreadSanitizer's runtime refuses to start a thread in the child of a
// multi-threaded process ("not supported"): there the children allocate on
// the forking thread only.
constexpr bool kThreadsInChild = !lab::kUnderThreadSanitizer;

#define SKIP_IF_SINGLE_THREAD() \
  if (A::kLimits.single_thread) GTEST_SKIP() << A::kName << " serves one thread by design"

// A thread that allocates and frees 32 KiB blocks (the largest slab class:
// the heap, the SuperSlab lock, its madvise) and tiny ones (the front end
// and, for magazines, the depot and the pool) until told to stop.
class Churner {
 public:
  Churner() : thread_([this] { run(); }) {
    while (!started_.load()) std::this_thread::yield();
  }
  ~Churner() {
    stop_.store(true);
    thread_.join();
  }

 private:
  void run() {
    // Its list never grows after the start: a sanitizer's own malloc (GCC
    // 12's ASan) takes locks it does not release in a fork child, so a
    // child forked while this thread grew the list hung in ASan, not in
    // hakmem (CI, 2026-12-02). The churn must hold only hakmem's locks.
    std::vector<void*> held;
    held.reserve(kHeldMax + 65);
    for (uint64_t i = 0; !stop_.load(); ++i) {
      held.push_back(A::malloc(32 * 1024));
      for (int j = 0; j < 64; ++j) held.push_back(A::malloc(16 + (i * 7 + j * 13) % 1000));
      if (held.size() > kHeldMax) {
        for (void* p : held) A::free(p);
        held.clear();
      }
      if (i % 16 == 0) A::trim();
      started_.store(true);  // after its heap exists
    }
    for (void* p : held) A::free(p);
  }

  static constexpr std::size_t kHeldMax = 2000;  // then it frees them all; one round adds 65
  std::atomic<bool> stop_{false};
  std::atomic<bool> started_{false};
  std::thread thread_;
};

// What a child does: allocate and free 20,000-byte blocks, then let a new
// thread do the same. Exit status 0 when every block was usable.
int child_allocates() {
  std::vector<char*> blocks;
  for (int i = 0; i < 200; ++i) {
    auto* p = static_cast<char*>(A::malloc(20000));
    if (p == nullptr) return 3;
    p[0] = p[19999] = static_cast<char>(i);
    blocks.push_back(p);
  }
  for (int i = 0; i < 200; ++i) {
    if (blocks[i][0] != static_cast<char>(i) || blocks[i][19999] != static_cast<char>(i)) return 4;
    A::free(blocks[i]);
  }
  int status = 0;
  if (!kThreadsInChild) return status;
  std::thread([&] {
    for (int i = 0; i < 100; ++i) {
      void* p = A::malloc(20000 + i);
      void* q = A::malloc(100);
      if (p == nullptr || q == nullptr) status = 5;
      A::free(p);
      A::free(q);
    }
  }).join();
  return status;
}

// The repro: before handlers existed, 3-9 of 42 children hung on a
// lock the churning thread held at fork time.
TEST(Fork, AForkStormWithAChurningThreadNeverHangsAChild) {
  SKIP_IF_SINGLE_THREAD();
  A::free(A::malloc(100));  // this thread's heap
  Churner churner;
  int failed = 0;
  for (int i = 0; i < 40; ++i) {
    const lab::ChildOutcome out = lab::run_in_child(child_allocates, 10s);
    if (!out.exited_with(0)) {
      ++failed;
      ADD_FAILURE() << "child " << i << ": " << out.describe() << "\n" << out.output;
    }
  }
  EXPECT_EQ(failed, 0) << "of 40 children";
}

// In the child only the forking thread exists: the heaps of the others are
// reclaimed (abandoned), so a new thread in the child adopts one instead of
// making a heap. The other thread's heap exists before the fork (it has
// allocated and waits), so there is one to adopt.
TEST(Fork, TheChildReclaimsTheHeapsOfThreadsThatAreGone) {
  SKIP_IF_SINGLE_THREAD();
  if (!kThreadsInChild) GTEST_SKIP() << "ThreadSanitizer cannot start a thread in the child of a threaded process";
  A::free(A::malloc(100));  // this thread's heap
  std::atomic<int> stage{0};
  std::thread other([&] {
    void* p = A::malloc(300);  // a heap, and a live block in it
    stage.store(1);
    while (stage.load() != 2) std::this_thread::yield();
    A::free(p);
  });
  while (stage.load() != 1) std::this_thread::yield();
  const lab::ChildOutcome out = lab::run_in_child(
      [] {
        const int active = active_heaps();
        const int made = created_heaps();
        int adopted_ok = 1;
        std::thread([&] {
          A::free(A::malloc(64));
          adopted_ok = created_heaps() == made;
        }).join();
        printf("active %d, made %d -> %d\n", active, made, created_heaps());
        if (active != 1) return 2;  // only the forking thread runs
        return adopted_ok ? 0 : 3;
      },
      10s);
  stage.store(2);
  other.join();
  EXPECT_TRUE(out.exited_with(0)) << out.describe() << ": " << out.output
                                  << "(exit 2: heaps of threads gone still active; exit 3: a new thread made a heap "
                                     "instead of adopting a reclaimed one)";
}

}  // namespace
}  // namespace hakmem
