// The gate binary end to end: a baseline is written, unchanged code passes
// against it, a doctored baseline makes it fail with the row summarized
// last, and a broken baseline is refused before anything is measured.
#include <gtest/gtest.h>

#include <fstream>

#include "harness/results.h"
#include "harness/subprocess.h"
#include "harness/test_support.h"

namespace lab {
namespace {

using testing_support::run_runfile;

ProcessResult gate(std::vector<std::string> args) {
  return run_runfile("harness/gate", std::move(args), 900);
}

TEST(GateEndToEnd, WritesABaselinePassesOnItAndCatchesADoctoredOne) {
  const std::string path = testing::TempDir() + "/gate.json";
  const ProcessResult update = gate({"--baseline=" + path, "--update-baseline", "--reps=3"});
  ASSERT_EQ(update.exit_code, 0) << update.stderr_tail;
  EXPECT_NE(update.stdout_text.find("baseline written"), std::string::npos);
  Json baseline;
  {
    std::ifstream in(path);
    baseline = Json::parse(in);
  }
  EXPECT_EQ(baseline["kind"], "hakmem-lab/gate-baseline");
  EXPECT_FALSE(baseline["machine"]["cpu_model"].get<std::string>().empty());
  bool counted = false;
  for (const Json& c : baseline["cells"]) {
    EXPECT_NE(c["allocator"], "glibc") << "the reference is not under test";
    counted |= c["instructions_per_op"].is_number();
  }
  EXPECT_TRUE(counted);

  const ProcessResult same = gate({"--baseline=" + path, "--reps=3"});
  EXPECT_EQ(same.exit_code, 0) << same.stdout_text;
  EXPECT_NE(same.stdout_text.find("gate: pass"), std::string::npos) << same.stdout_text;

  // Pretend the baseline needed 10% fewer instructions for one cell.
  for (Json& c : baseline["cells"]) {
    if (c["allocator"] == "ultra_simple" && c["workload"] == "mixed_lifo" && c["mode"] == "linked")
      c["instructions_per_op"] = c["instructions_per_op"].get<double>() * 0.9;
  }
  std::ofstream(path) << baseline.dump();
  const ProcessResult worse = gate({"--baseline=" + path, "--reps=3"});
  EXPECT_EQ(worse.exit_code, 1);
  const size_t summary = worse.stdout_text.find("gate: FAIL, 1 failing row:");
  ASSERT_NE(summary, std::string::npos) << worse.stdout_text;
  EXPECT_NE(worse.stdout_text.find("mixed_lifo/ultra_simple/t1", summary), std::string::npos);
  EXPECT_NE(worse.stdout_text.find("REGRESSION", summary), std::string::npos);
}

TEST(GateEndToEnd, BadInputIsRefusedBeforeMeasuring) {
  const std::string malformed = testing::TempDir() + "/malformed.json";
  std::ofstream(malformed) << "{ not json";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{}, "--baseline=FILE is required"},
      {{"--baseline=" + testing::TempDir() + "/none.json"}, "cannot open"},
      {{"--baseline=" + malformed}, "not valid JSON"},
      {{"--baseline=x.json", "--reps=1"}, "--reps must be an integer in [3, 200]"},
      {{"--baseline=x.json", "--alpha=2"}, "--alpha must be a number"},
      {{"--baseline=x.json", "--bogus"}, "unknown flag --bogus"},
  };
  for (const auto& [args, message] : cases) {
    const ProcessResult r = gate(args);
    EXPECT_EQ(r.exit_code, 2) << message;
    EXPECT_NE(r.stderr_tail.find(message), std::string::npos) << r.stderr_tail;
    EXPECT_EQ(std::count(r.stderr_tail.begin(), r.stderr_tail.end(), '\n'), 1) << r.stderr_tail;
    EXPECT_LT(r.wall_seconds, 10) << "refused before measuring: " << message;
  }
}

TEST(GateEndToEnd, HelpIsGeneratedFromTheFlagTable) {
  const ProcessResult r = gate({"--help"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  for (const char* line : {"  --reps=N             repetitions per cell (default: 21)\n",
                           "  --alpha=X            significance level of the throughput test (default: 0.01)\n",
                           "  --min-effect=X       smallest median throughput drop that can fail, in percent "
                           "(default: 10)\n"})
    EXPECT_NE(r.stdout_text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << r.stdout_text;
}

}  // namespace
}  // namespace lab
