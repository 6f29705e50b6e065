// CacheGate: the collector takes an owner's caches only after they have
// been idle for idle_ms, once per idle spell, never while the owner is
// inside, and not at all without a barrier; under concurrent use nothing
// the owner cached is lost or taken twice (ThreadSanitizer runs this too).
#include "allocator/pools/cache_gate.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "allocator/pal/fake_pal.h"

namespace hakmem {
namespace {

// A stand-in for a thread's caches: what the owner put in (plain fields),
// and a count of its refills and spills (its heap's, in the allocator).
struct Caches {
  uint64_t held = 0;
  uint64_t taken = 0;  // by the collector
  std::atomic<uint64_t> activity{0};
};

uint64_t activity(void* owner) { return static_cast<Caches*>(owner)->activity.load(); }

uint64_t take(void* owner) {
  Caches& c = *static_cast<Caches*>(owner);
  const uint64_t bytes = c.held;
  c.taken += c.held;
  c.held = 0;
  return bytes;
}

class Gate : public testing::Test {
 protected:
  void SetUp() override {
    gate_.owner = &caches_;
    gate_.take = &take;
    gate_.activity = &activity;
    gate_.thread = pthread_self();
    registry_.add(&gate_);
  }
  void TearDown() override { registry_.remove(&gate_); }
  // A call that moves blocks through the caches (a refill or a spill).
  void owner_call(uint64_t add) {
    const GateScope inside(gate_);
    caches_.held += add;
    caches_.activity.fetch_add(1);
  }
  unsigned pass(uint64_t idle_ms) {
    uint64_t bytes = 0;
    return registry_.take_idle(pal_, pal_.now_ms(), idle_ms, &bytes);
  }

  FakePal pal_;
  CacheGateRegistry registry_;
  CacheGate gate_;
  Caches caches_;
};

TEST_F(Gate, TakesOnlyAfterIdleForTheDelayAndOncePerIdleSpell) {
  owner_call(100);
  EXPECT_EQ(pass(50), 0u) << "first sight: idle from now";
  pal_.advance_ms(49);
  EXPECT_EQ(pass(50), 0u);
  pal_.advance_ms(1);
  EXPECT_EQ(pass(50), 1u);
  EXPECT_EQ(caches_.taken, 100u);
  EXPECT_EQ(caches_.held, 0u);
  EXPECT_EQ(pal_.barriers(), 1);
  pal_.advance_ms(1000);
  EXPECT_EQ(pass(50), 0u) << "taken already; the owner has not called since";
  EXPECT_EQ(registry_.taken_total(), 1u);
  EXPECT_EQ(registry_.taken_bytes_total(), 100u);
}

TEST_F(Gate, AnOwnerThatCallsIsNotIdle) {
  EXPECT_EQ(pass(50), 0u);
  for (int i = 0; i < 5; ++i) {
    pal_.advance_ms(40);
    owner_call(1);
    EXPECT_EQ(pass(50), 0u) << i;
  }
  pal_.advance_ms(50);
  EXPECT_EQ(pass(50), 1u);
  EXPECT_EQ(caches_.taken, 5u);
  owner_call(7);  // called again: a new idle spell
  EXPECT_EQ(pass(50), 0u);
  pal_.advance_ms(50);
  EXPECT_EQ(pass(50), 1u);
  EXPECT_EQ(caches_.taken, 12u);
}

TEST_F(Gate, AnOwnerInsideIsNeverTaken) {
  gate_.enter();
  caches_.held = 5;
  EXPECT_EQ(pass(0), 0u);
  pal_.advance_ms(1000);
  EXPECT_EQ(pass(0), 0u);
  EXPECT_EQ(caches_.held, 5u);
  gate_.leave();
  EXPECT_EQ(pass(0), 1u);
  EXPECT_EQ(caches_.taken, 5u);
}

TEST_F(Gate, WithoutABarrierNothingIsTaken) {
  owner_call(9);
  EXPECT_EQ(pass(0), 0u);
  pal_.fail_next_barriers(1);
  EXPECT_EQ(pass(0), 0u);
  EXPECT_EQ(caches_.held, 9u);
  EXPECT_EQ(gate_.parked.load(), 0u) << "the owner is not left waiting";
  EXPECT_EQ(pass(0), 1u);
}

TEST_F(Gate, ARemovedGateIsNotTaken) {
  owner_call(3);
  registry_.remove(&gate_);
  EXPECT_EQ(registry_.size(), 0u);
  EXPECT_EQ(pass(0), 0u);
  EXPECT_EQ(pass(0), 0u);
  registry_.add(&gate_);  // for TearDown
}

// The owner adds to its caches in a loop, pausing now and then; the
// collector takes as often as it can. Whatever was added is held or taken,
// exactly once.
TEST(GateConcurrency, NothingIsLostOrTakenTwice) {
  CacheGateRegistry registry;
  CacheGate gate;
  Caches caches;
  gate.owner = &caches;
  gate.take = &take;
  gate.activity = &activity;
  gate.thread = pthread_self();
  registry.add(&gate);
  std::atomic<bool> done{false};
  constexpr uint64_t kCalls = 200'000;
  std::thread owner([&] {
    for (uint64_t i = 0; i < kCalls; ++i) {
      {
        const GateScope inside(gate);
        caches.held += 1;
      }
      if (i % 1000 == 0) std::this_thread::sleep_for(std::chrono::microseconds(200));
    }
    done.store(true);
  });
  uint64_t passes = 0, taken = 0, bytes = 0;
  while (!done.load()) {
    taken += registry.take_idle(os_pal(), ++passes, 0, &bytes);
  }
  owner.join();
  registry.remove(&gate);
  EXPECT_EQ(caches.held + caches.taken, kCalls);
  EXPECT_EQ(caches.taken, bytes);
  EXPECT_GT(taken, 0u) << "the owner's pauses leave room to take";
}

}  // namespace
}  // namespace hakmem
