#include "harness/subprocess.h"

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace lab
