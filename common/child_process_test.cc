#include "common/child_process.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>

namespace lab {
namespace {

using namespace std::chrono_literals;

TEST(ChildProcess, ReportsTheExitCodeAndEverythingPrinted) {
  const ChildOutcome out = run_in_child(
      [] {
        printf("to stdout\n");
        fprintf(stderr, "to stderr\n");
        return 3;
      },
      60s);
  EXPECT_EQ(out.end, ChildOutcome::End::kExited) << out.describe();
  EXPECT_TRUE(out.exited_with(3)) << out.describe();
  EXPECT_EQ(out.describe(), "exit 3");
  EXPECT_NE(out.output.find("to stdout\n"), std::string::npos) << out.output;
  EXPECT_NE(out.output.find("to stderr\n"), std::string::npos) << out.output;
}

TEST(ChildProcess, ReportsTheSignalThatEndedIt) {
  const ChildOutcome out = run_in_child(
      [] {
        signal(SIGABRT, SIG_DFL);
        abort();
        return 0;
      },
      60s);
  EXPECT_EQ(out.end, ChildOutcome::End::kSignalled) << out.describe();
  EXPECT_EQ(out.signal, SIGABRT);
  EXPECT_FALSE(out.exited_with(0));
  EXPECT_NE(out.describe().find("signal 6"), std::string::npos) << out.describe();
}

TEST(ChildProcess, AHangIsKilledAtTheDeadline) {
  const ChildOutcome out = run_in_child(
      [] {
        printf("before the hang\n");
        fflush(stdout);
        for (;;) pause();
        return 0;
      },
      300ms);
  EXPECT_EQ(out.end, ChildOutcome::End::kTimedOut) << out.describe();
  EXPECT_EQ(out.describe(), "killed at the deadline");
  EXPECT_NE(out.output.find("before the hang"), std::string::npos) << "output up to the hang is kept";
}

TEST(ChildProcess, AChildThatClosesItsOutputAndHangsIsKilledToo) {
  const ChildOutcome out = run_in_child(
      [] {
        close(STDOUT_FILENO);
        close(STDERR_FILENO);
        for (;;) pause();
        return 0;
      },
      300ms);
  EXPECT_EQ(out.end, ChildOutcome::End::kTimedOut) << out.describe();
}

// Dead: no such process, or a zombie waiting for a reaper (a container's
// init may never reap it).
bool dead(int pid) {
  if (kill(pid, 0) != 0) return true;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string pid_field, name, state;
  stat >> pid_field >> name >> state;  // names of our processes have no spaces
  return state == "Z" || state == "X";
}

TEST(ChildProcess, GrandchildrenHoldingThePipeDoNotMakeItATimeout) {
  int grandchild = 0;
  const ChildOutcome out = run_in_child(
      [&grandchild] {
        grandchild = fork();
        if (grandchild == 0) {
          for (;;) pause();  // keeps the pipe open; killed with the group
        }
        printf("%d\n", grandchild);
        return 0;
      },
      300ms);
  EXPECT_TRUE(out.exited_with(0)) << out.describe();
  const int pid = atoi(out.output.c_str());
  ASSERT_GT(pid, 0) << out.output;
  // Killed with the group (SIGKILL): dead soon after.
  bool gone = false;
  for (int i = 0; i < 5000 && !gone; ++i) {
    gone = dead(pid);
    if (!gone) usleep(1000);
  }
  EXPECT_TRUE(gone) << "grandchild " << pid << " still runs";
}

}  // namespace
}  // namespace lab
