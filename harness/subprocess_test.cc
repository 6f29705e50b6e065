#include "harness/subprocess.h"

#include <gtest/gtest.h>

#include <stdlib.h>

#include <csignal>

namespace lab {
namespace {

TEST(Subprocess, CapturesStdoutAndExitCode) {
  const ProcessResult r = run_process({"/bin/sh", "-c", "echo hello; echo oops >&2; exit 7"}, 10);
  EXPECT_TRUE(r.started);
  EXPECT_EQ(r.exit_code, 7);
  EXPECT_EQ(r.stdout_text, "hello\n");
  EXPECT_EQ(r.stderr_tail, "oops\n");
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.describe_failure(), "exited with code 7: oops");
}

TEST(Subprocess, ReportsTheSignalThatKilledIt) {
  const ProcessResult r = run_process({"/bin/sh", "-c", "kill -SEGV $$"}, 10);
  EXPECT_EQ(r.signal, SIGSEGV);
  EXPECT_NE(r.describe_failure().find("killed by signal 11"), std::string::npos) << r.describe_failure();
}

TEST(Subprocess, KillsAHungProcessAtTheDeadline) {
  const ProcessResult r = run_process({"/bin/sh", "-c", "sleep 30 & wait"}, 0.5);
  EXPECT_TRUE(r.timed_out);
  EXPECT_LT(r.wall_seconds, 10);
  EXPECT_NE(r.describe_failure().find("timed out"), std::string::npos);
}

// A batch scheduler cancelling a job (scancel) signals every process of
// it: the child can die of that SIGTERM before the wait loop sees the stop
// the same signal asked of the harness. That death is the interruption,
// not a failure of the run to record against the allocator.
volatile int g_stop_on_child_exit = 0;
TEST(Subprocess, AChildKilledWhileAStopIsRequestedWasInterrupted) {
  g_stop_on_child_exit = 0;
  struct sigaction on_child {}, before{};
  on_child.sa_handler = [](int) { g_stop_on_child_exit = 1; };
  sigaction(SIGCHLD, &on_child, &before);
  const ProcessResult r = run_process({"/bin/sh", "-c", "kill -TERM $$"}, 10, {}, &g_stop_on_child_exit);
  sigaction(SIGCHLD, &before, nullptr);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_TRUE(r.interrupted);
}

TEST(Subprocess, StopsWhenAskedTo) {
  volatile int stop = 1;
  const ProcessResult r = run_process({"/bin/sleep", "30"}, 0, {}, &stop);
  EXPECT_TRUE(r.interrupted);
  EXPECT_FALSE(r.ok());
}

TEST(Subprocess, MissingProgramIsAStartError) {
  const ProcessResult r = run_process({"/nonexistent/program"}, 10);
  EXPECT_FALSE(r.started);
  EXPECT_NE(r.describe_failure().find("/nonexistent/program"), std::string::npos);
}

TEST(Subprocess, PassesExtraEnvironment) {
  const ProcessResult r = run_process({"/bin/sh", "-c", "echo $LAB_TEST_VAR"}, 10, {"LAB_TEST_VAR=42"});
  EXPECT_EQ(r.stdout_text, "42\n");
}

TEST(Subprocess, ExtraEnvironmentReplacesAnInheritedVariable) {
  setenv("LAB_TEST_VAR", "inherited", 1);
  const ProcessResult r = run_process({"/bin/sh", "-c", "env | grep -c '^LAB_TEST_VAR='; echo $LAB_TEST_VAR"}, 10,
                                      {"LAB_TEST_VAR=given"});
  unsetenv("LAB_TEST_VAR");
  EXPECT_EQ(r.stdout_text, "1\ngiven\n");
}

TEST(Subprocess, ReportsTheChildsCpuTime) {
  const ProcessResult r =
      run_process({"/bin/sh", "-c", "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done"}, 60);
  ASSERT_TRUE(r.ok()) << r.describe_failure();
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_GT(r.usage->cpu_seconds(), 0);
  EXPECT_GT(r.usage->max_rss_bytes, 0);
  EXPECT_GE(r.usage->major_faults, 0);
  EXPECT_GE(r.usage->voluntary_context_switches, 0);
}

// The shell waits for dd, so dd's 64 MiB buffer (read into, so resident)
// shows in the shell's peak RSS: a compiler driver's cc1plus is counted so.
TEST(Subprocess, UsageIncludesTheDescendantsTheChildWaitedFor) {
  const ProcessResult r =
      run_process({"/bin/sh", "-c", "dd if=/dev/zero of=/dev/null bs=64M count=1 2>/dev/null; true"}, 60);
  ASSERT_TRUE(r.ok()) << r.describe_failure();
  ASSERT_TRUE(r.usage.has_value());
  EXPECT_GE(r.usage->max_rss_bytes, int64_t{64} << 20);
  const ProcessResult alone = run_process({"/bin/sh", "-c", "true"}, 60);
  ASSERT_TRUE(alone.usage.has_value());
  EXPECT_LT(alone.usage->max_rss_bytes, int64_t{64} << 20);
}

TEST(Subprocess, AProcessThatDidNotStartHasNoUsage) {
  const ProcessResult r = run_process({"/nonexistent/program"}, 10);
  EXPECT_FALSE(r.usage.has_value());
}

}  // namespace
}  // namespace lab
