// The learner thread's life cycle: start, passes at its interval, stop,
// start again, CPU time, and fork (learner_thread.h).
#include "allocator/learner/learner_thread.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace hakmem {
namespace {

std::atomic<int> g_passes{0};
void count_pass() { g_passes.fetch_add(1); }

// Waits up to 5 s for `done`; the interval is 1 ms, so this is generous.
template <class F>
bool eventually(F done) {
  for (int i = 0; i < 5000 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return done();
}

TEST(LearnerThread, RunsItsPassAtItsIntervalUntilStoppedAndStartsAgain) {
  LearnerThread learner(&count_pass);
  EXPECT_FALSE(learner.running());
  g_passes = 0;
  ASSERT_TRUE(learner.start(1));
  EXPECT_TRUE(learner.running());
  EXPECT_TRUE(learner.start(1)) << "a second start while it runs changes nothing";
  EXPECT_TRUE(eventually([&] { return learner.passes() >= 5; }));
  learner.stop();
  EXPECT_FALSE(learner.running());
  const int64_t passes = learner.passes();
  EXPECT_EQ(g_passes.load(), passes) << "every pass ran the function once";
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  EXPECT_EQ(learner.passes(), passes) << "no pass after stop";
  EXPECT_GE(learner.cpu_ns(), 0);
  learner.stop();  // a second stop does nothing
  ASSERT_TRUE(learner.start(1));
  EXPECT_TRUE(eventually([&] { return learner.passes() > passes; }));
  learner.stop();
}

TEST(LearnerThread, StopWakesItWithoutWaitingOutALongInterval) {
  LearnerThread learner(&count_pass);
  ASSERT_TRUE(learner.start(3'600'000));
  const auto t0 = std::chrono::steady_clock::now();
  learner.stop();
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(30)) << "not an hour";
  EXPECT_EQ(learner.passes(), 0);
}

LearnerThread g_forked(&count_pass);

// ThreadSanitizer cannot start a thread in the child of a multi-threaded
// fork (it dies); under it the child checks only that no learner runs.
#if defined(__SANITIZE_THREAD__)
constexpr bool kChildMayStartThreads = false;
#else
constexpr bool kChildMayStartThreads = true;
#endif

TEST(LearnerThread, AForkedChildHasNoLearnerUntilItStartsOne) {
  ASSERT_TRUE(g_forked.start(1));
  g_forked.fork_prepare();
  const pid_t pid = fork();
  if (pid == 0) {
    g_forked.fork_child();
    if (g_forked.running()) _exit(2);
    if (!kChildMayStartThreads) _exit(0);
    const int64_t before = g_forked.passes();
    if (!g_forked.start(1)) _exit(3);
    for (int i = 0; i < 5000 && g_forked.passes() <= before; ++i) usleep(1000);
    g_forked.stop();
    _exit(g_forked.passes() > before ? 0 : 4);
  }
  g_forked.fork_parent();
  ASSERT_GT(pid, 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: running after fork, 3: no start, 4: no pass in the child";
  EXPECT_TRUE(g_forked.running()) << "the parent's goes on";
  g_forked.stop();
}

}  // namespace
}  // namespace hakmem
