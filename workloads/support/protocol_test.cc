// The driver protocol's status line: written without allocating, escaped
// so any reason survives, and read back into the same status and reason.
#include "workloads/support/protocol.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace lab {
namespace {

TEST(Protocol, TheSafeWriterAndTheReaderAgreeOnAnyReason) {
  const std::string reason = "block 7 of \"mixed_lifo\" \\ was\tcorrupted\nwhile live";
  testing::internal::CaptureStdout();
  write_status_line(DriverStatus::kValidationFailed, reason.c_str());
  const std::string out = testing::internal::GetCapturedStdout();
  EXPECT_EQ(out.back(), '\n');
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << "one line, whatever the reason holds";
  std::string error;
  const auto line = read_status_line("earlier output\n" + out, &error);
  ASSERT_TRUE(line) << error;
  EXPECT_EQ(line->status, DriverStatus::kValidationFailed);
  EXPECT_EQ(line->reason, reason);
  EXPECT_EQ(status_line(DriverStatus::kValidationFailed, reason) + "\n", out)
      << "both writers produce the same line";
}

TEST(Protocol, EveryStatusHasItsOwnNameAndExitCode) {
  std::set<std::string> names;
  std::set<int> codes;
  for (const DriverStatusInfo& s : kDriverStatuses) {
    names.insert(s.name);
    codes.insert(s.exit_code);
    EXPECT_EQ(driver_status_named(s.name), s.status);
  }
  EXPECT_EQ(names.size(), std::size(kDriverStatuses));
  EXPECT_EQ(codes.size(), std::size(kDriverStatuses));
  EXPECT_EQ(exit_code_of(DriverStatus::kOk), 0);
  EXPECT_FALSE(driver_status_named("crashed"));
}

TEST(Protocol, OutputWithoutAStatusLineSaysWhy) {
  std::string error;
  EXPECT_FALSE(read_status_line("", &error));
  EXPECT_EQ(error, "no status line on stdout");
  EXPECT_FALSE(read_status_line("{\"ops\": 1}\n", &error));
  EXPECT_EQ(error, "the last line of stdout has no \"status\"");
  EXPECT_FALSE(read_status_line("{\"status\": \"exploded\"}", &error));
  EXPECT_EQ(error, "unknown driver status \"exploded\"");
}

}  // namespace
}  // namespace lab
