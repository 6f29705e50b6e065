// microbench end to end: its output is Google Benchmark JSON with the
// variant as a field, one entry per repetition and a median aggregate.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "harness/results.h"
#include "harness/subprocess.h"
#include "harness/test_support.h"

namespace lab {
namespace {

using testing_support::run_runfile;

ProcessResult microbench(std::vector<std::string> args) {
  return run_runfile("harness/microbench", std::move(args), 600);
}

TEST(Microbench, WritesGoogleBenchmarkJsonWithTheVariantAsAField) {
  const std::string path = testing::TempDir() + "/mb.json";
  const ProcessResult r = microbench({"--allocators=ultra_simple,bound", "--reps=2", "--min-time=0.01",
                                      "--filter=lifo/(16|65536|262144|524288|4194304)$", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  std::ifstream in(path);
  const Json j = Json::parse(in);
  ASSERT_TRUE(j.contains("context"));
  EXPECT_EQ(j["context"]["hakmem_lab"]["kind"], "hakmem-lab/microbench");
  EXPECT_TRUE(j["context"].contains("num_cpus")) << "Google Benchmark's own context is kept";
  std::map<std::string, int> iterations;
  std::map<std::string, const Json*> medians;
  for (const Json& b : j["benchmarks"]) {
    for (const char* key : {"name", "run_name", "run_type", "real_time", "cpu_time", "time_unit", "variant"})
      ASSERT_TRUE(b.contains(key)) << key << " in " << b.dump();
    if (b["run_type"] == "iteration") {
      ++iterations[b["name"]];
      EXPECT_EQ(b["repetitions"], 2);
    } else {
      EXPECT_EQ(b["aggregate_name"], "median");
      medians[b["name"]] = &b;
    }
  }
  EXPECT_EQ(iterations["ultra_simple/lifo/16"], 2);
  EXPECT_EQ(iterations["bound/lifo/16"], 2);
  ASSERT_TRUE(medians.count("ultra_simple/lifo/16_median"));
  EXPECT_EQ((*medians["ultra_simple/lifo/16_median"])["variant"], "ultra_simple");
  EXPECT_GT((*medians["ultra_simple/lifo/16_median"])["real_time"].get<double>(), 0);
  // The sizes above 32 KiB: the L25 range (64, 256, 512 KiB) and a large
  // block (4 MiB), timed for hakmem and declined by bound.
  for (const char* size : {"65536", "262144", "524288", "4194304"}) {
    const std::string name = std::string("lifo/") + size;
    EXPECT_EQ(iterations["ultra_simple/" + name], 2) << name;
    ASSERT_TRUE(medians.count("ultra_simple/" + name + "_median")) << name;
    EXPECT_GT((*medians["ultra_simple/" + name + "_median"])["real_time"].get<double>(), 0) << name;
    EXPECT_EQ(medians.count("bound/" + name + "_median"), 0u) << "bound does not serve " << size << " bytes";
    bool bound_refused = false;
    for (const Json& b : j["benchmarks"])
      if (b["name"] == "bound/" + name) bound_refused = b.value("error_occurred", false);
    EXPECT_TRUE(bound_refused) << name;
  }
  EXPECT_NE(r.stdout_text.find("lifo/16"), std::string::npos);
}

// Preload mode runs the glibc-linked binary under each allocator's
// library: a variant's preload runs are named <variant>@preload, a peer
// runs once, preloaded, and bound (no library) stays linked.
TEST(Microbench, PreloadModeRunsTheSameBinaryUnderEachLibrary) {
  const std::string path = testing::TempDir() + "/mb-preload.json";
  const ProcessResult r = microbench({"--allocators=ultra_simple,glibc,mimalloc,bound", "--modes=linked,preload",
                                      "--reps=1", "--min-time=0.01", "--filter=lifo/(16|8192)$", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  std::ifstream in(path);
  const Json j = Json::parse(in);
  std::map<std::string, std::string> mode_of;
  for (const Json& b : j["benchmarks"])
    if (b["run_type"] == "iteration") mode_of[b["name"]] = b["mode"];
  EXPECT_EQ(mode_of["ultra_simple/lifo/16"], "linked");
  EXPECT_EQ(mode_of["ultra_simple@preload/lifo/8192"], "preload");
  EXPECT_EQ(mode_of["glibc/lifo/16"], "preload");
  EXPECT_EQ(mode_of["mimalloc/lifo/16"], "preload");
  EXPECT_EQ(mode_of["bound/lifo/16"], "linked");
  EXPECT_EQ(mode_of.count("bound@preload/lifo/16"), 0u);
  EXPECT_EQ(j["context"]["hakmem_lab"]["config"]["modes"], Json::array({"linked", "preload"}));
  EXPECT_NE(r.stdout_text.find("ultra_simple@preload"), std::string::npos) << r.stdout_text;
}

TEST(Microbench, BadFlagsAreOneLineErrors) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--allocators=nope"}, "unknown allocator 'nope'"},
      {{"--reps=0"}, "--reps must be an integer"},
      {{"--min-time=-1"}, "--min-time must be a number in (0, 60], got '-1'"},
      {{"--min-time=abc"}, "got 'abc'"},
      {{"--bogus"}, "unknown flag --bogus"},
      {{"--modes=inline"}, "--modes takes linked and preload, got 'inline'"},
      {{"--allocators=bound", "--modes=preload"}, "bound"},
  };
  for (const auto& [args, message] : cases) {
    const ProcessResult r = microbench(args);
    EXPECT_EQ(r.exit_code, 2) << message;
    EXPECT_NE(r.stderr_tail.find(message), std::string::npos) << r.stderr_tail;
    EXPECT_EQ(std::count(r.stderr_tail.begin(), r.stderr_tail.end(), '\n'), 1) << r.stderr_tail;
  }
}

TEST(Microbench, HelpIsGeneratedFromTheFlagTable) {
  const ProcessResult r = microbench({"--help"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  for (const char* line : {"  --reps=N             repetitions per allocator (default: 3)\n",
                           "  --timeout=N          per-run limit in seconds;",
                           "  --min-time=X         Google Benchmark's minimum time per benchmark, in seconds "
                           "(default: 0.1)\n"})
    EXPECT_NE(r.stdout_text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << r.stdout_text;
}

}  // namespace
}  // namespace lab
