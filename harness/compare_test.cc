// compare, end to end: a tiny matrix through the real runner and drivers.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <tuple>

#include "harness/results.h"
#include "harness/subprocess.h"
#include "harness/test_support.h"

namespace lab {
namespace {

using testing_support::run_runfile;
using testing_support::runfile;

class CompareTest : public testing::Test {
 protected:
  std::string out(const std::string& name) const { return testing::TempDir() + "/" + name; }
  // Linked mode unless a test asks for modes: most tests are about the
  // runner, which is the same in both.
  ProcessResult compare(std::vector<std::string> args) const {
    const bool modes = std::any_of(args.begin(), args.end(), [](const std::string& a) { return a.rfind("--modes", 0) == 0; });
    if (!modes && !args.empty() && args[0] != "--help") args.push_back("--modes=linked");
    return run_runfile("harness/compare", std::move(args), 600);
  }
  static Json load(const std::string& path) {
    std::ifstream in(path);
    return Json::parse(in);
  }
};

TEST_F(CompareTest, TinyMatrixRunsInterleavedAndIsRecorded) {
  const std::string path = out("tiny.json");
  const ProcessResult r = compare({"--allocators=ultra_simple,glibc", "--workloads=mixed_lifo", "--threads=1,2",
                                   "--reps=3", "--smoke", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.describe_failure() << r.stderr_tail;
  const Json j = load(path);
  EXPECT_EQ(j["schema_version"], 3);
  EXPECT_EQ(j["status"], "complete");
  EXPECT_FALSE(j["machine"]["cpu_model"].get<std::string>().empty());
  EXPECT_EQ(j["machine"]["thp_enabled"].get<std::string>().empty(), false);
  const Json& flags = j["build"]["driver"]["compile_flags"];
  EXPECT_NE(std::find(flags.begin(), flags.end(), "-O2"), flags.end()) << j["build"].dump();
  EXPECT_EQ(j["build"]["driver"]["compilation_mode"], "opt");
  ASSERT_EQ(j["cells"].size(), 4u);
  // Interleaved: repetition r of every cell runs before repetition r+1 of any.
  for (const Json& cell : j["cells"]) {
    EXPECT_EQ(cell["status"], "complete");
    EXPECT_EQ(cell["mode"], "linked");
    ASSERT_EQ(cell["runs"].size(), 3u);
    for (const Json& run : cell["runs"]) {
      const int rep = run["rep"], seq = run["seq"];
      EXPECT_GT(seq, (rep - 1) * 4) << cell["allocator"];
      EXPECT_LE(seq, rep * 4) << cell["allocator"];
      EXPECT_EQ(run["record"]["allocator"], cell["allocator"]);
      EXPECT_EQ(run["record"]["threads"], cell["threads"]);
    }
    EXPECT_TRUE(cell["summary"]["metrics"]["ops_per_sec"]["median"].is_number());
    EXPECT_TRUE(cell["summary"]["metrics"]["major_faults"]["median"].is_number());
    EXPECT_TRUE(cell["summary"]["metrics"]["voluntary_context_switches"]["median"].is_number());
    // hakmem's system calls per million operations; null for glibc, whose
    // records say why (not counted), never 0.
    const Json& syscalls = cell["summary"]["metrics"]["syscalls_per_mop"];
    if (cell["allocator"] == "ultra_simple") {
      EXPECT_TRUE(syscalls["median"].is_number()) << syscalls.dump();
      EXPECT_EQ(syscalls["n"], 3);
    } else {
      EXPECT_TRUE(syscalls.is_null()) << syscalls.dump();
      EXPECT_EQ(cell["runs"][0]["record"]["syscalls"]["reason"], "not counted: not hakmem");
    }
    EXPECT_EQ(cell["params"]["seed"], 42);
    EXPECT_EQ(cell["params"]["workers"], cell["threads"]);
    EXPECT_EQ(cell["params"]["workload_params"]["batch"], 100);
  }
  const Json& glibc = j["cells"][1];
  EXPECT_EQ(glibc["allocator"], "glibc");
  EXPECT_DOUBLE_EQ(glibc["summary"]["ratio_to_baseline"].get<double>(), 1.0);
  EXPECT_NE(r.stdout_text.find("ultra_simple"), std::string::npos);
  EXPECT_NE(r.stdout_text.find("xglibc"), std::string::npos);
}

TEST_F(CompareTest, CrashedAndHungCellsFailAloneAndTheRunGoesOn) {
  const std::string crash_path = out("crash.json");
  const ProcessResult crash = compare({"--allocators=ultra_simple,glibc,mimalloc", "--workloads=mixed_lifo",
                                       "--threads=1", "--reps=2", "--smoke",
                                       "--param=inject_fault=crash@glibc", "--out=" + crash_path});
  EXPECT_EQ(crash.exit_code, 1);
  Json j = load(crash_path);
  EXPECT_EQ(j["cells"][0]["status"], "complete");
  EXPECT_EQ(j["cells"][1]["status"], "failed");
  EXPECT_NE(j["cells"][1]["error"].get<std::string>().find("killed by signal 11"), std::string::npos);
  EXPECT_EQ(j["cells"][2]["status"], "complete");
  EXPECT_EQ(j["cells"][2]["runs"].size(), 2u);

  const std::string hang_path = out("hang.json");
  const ProcessResult hang = compare({"--allocators=ultra_simple,glibc", "--workloads=mixed_lifo", "--threads=1",
                                      "--reps=1", "--smoke",
                                      "--param=inject_fault=hang@glibc", "--timeout=2", "--out=" + hang_path});
  EXPECT_EQ(hang.exit_code, 1);
  j = load(hang_path);
  EXPECT_EQ(j["cells"][0]["status"], "complete");
  EXPECT_NE(j["cells"][1]["error"].get<std::string>().find("timed out after 2 s"), std::string::npos);
}

TEST_F(CompareTest, ABadNameOrParameterFailsItsCellsAndTheOthersRun) {
  const std::vector<std::tuple<std::vector<std::string>, std::string, std::vector<std::string>>> cases = {
      {{"--allocators=ultra_simple,nope", "--workloads=mixed_lifo"},
       "unknown allocator 'nope' (known: ultra_simple",
       {"mixed_lifo/nope/t1"}},
      {{"--allocators=ultra_simple", "--workloads=mixed_lifo,nope"},
       "unknown workload 'nope' (known: mixed_lifo",
       {"nope/ultra_simple/t1"}},
      {{"--allocators=ultra_simple", "--workloads=mixed_lifo,random_free", "--param=random_free.min_size=0"},
       "--min_size must be an integer",
       {"random_free/ultra_simple/t1"}},
      {{"--allocators=ultra_simple", "--workloads=mixed_lifo,random_free", "--param=random_free.max_size=-1"},
       "--max_size must be an integer",
       {"random_free/ultra_simple/t1"}},
      // A soak longer than a run may take: its cells fail before anything runs.
      {{"--allocators=ultra_simple", "--workloads=mixed_lifo,soak", "--param=soak.minutes=10"},
       "--param=soak.minutes=10: a 10-minute run cannot finish within --timeout=300 s (raise --timeout above 630 s)",
       {"soak/ultra_simple/t1"}},
  };
  int n = 0;
  for (const auto& [args, message, failed] : cases) {
    const std::string path = out("cell_error_" + std::to_string(n++) + ".json");
    std::vector<std::string> full = args;
    for (const char* flag : {"--smoke", "--threads=1", "--reps=1"}) full.push_back(flag);
    full.push_back("--out=" + path);
    const ProcessResult r = compare(full);
    EXPECT_EQ(r.exit_code, 1) << message << ": " << r.stderr_tail;
    const size_t at = r.stderr_tail.find("error: ");
    ASSERT_NE(at, std::string::npos) << r.stderr_tail;
    const std::string line = r.stderr_tail.substr(at, r.stderr_tail.find('\n', at) - at);
    EXPECT_NE(line.find(message), std::string::npos) << "stderr: " << r.stderr_tail;
    const Json j = load(path);
    int complete = 0;
    for (const Json& cell : j["cells"]) {
      const std::string key = cell_key(cell["workload"].get<std::string>(), cell["allocator"].get<std::string>(),
                                       cell["threads"].get<int>());
      if (std::find(failed.begin(), failed.end(), key) != failed.end()) {
        EXPECT_EQ(cell["status"], "failed") << key;
        EXPECT_NE(cell["error"].get<std::string>().find(message), std::string::npos) << cell["error"];
        EXPECT_TRUE(cell["runs"].empty()) << key;
      } else {
        EXPECT_EQ(cell["status"], "complete") << key << ": the other cells still run";
        ++complete;
      }
    }
    EXPECT_EQ(complete, 1) << message;
  }
}

TEST_F(CompareTest, BadInputForEveryCellIsAOneLineErrorAndWritesNothing) {
  std::ofstream(out("plain_file")) << "not a directory";
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--reps=0"}, "--reps must be an integer in [1, 1000], got '0'"},
      {{"--reps=-2"}, "got '-2'"},
      {{"--ops=0"}, "--ops must be an integer"},
      {{"--threads=1,0"}, "--threads must be an integer"},
      {{"--baseline=nope"}, "unknown baseline allocator 'nope'"},
      // A path under a regular file cannot be written, even by root.
      {{"--out=" + out("plain_file") + "/y.json"}, "cannot write " + out("plain_file") + "/y.json"},
      {{"--bogus"}, "unknown flag --bogus"},
  };
  for (const auto& [args, message] : cases) {
    std::vector<std::string> full = args;
    full.push_back("--smoke");
    full.push_back("--allocators=ultra_simple");
    if (args[0].rfind("--allocators", 0) == 0) full.pop_back();
    const bool has_out = args[0].rfind("--out", 0) == 0;
    const std::string path = out("bad.json");
    if (!has_out) full.push_back("--out=" + path);
    const ProcessResult r = compare(full);
    EXPECT_EQ(r.exit_code, 2) << message << ": " << r.stderr_tail;
    EXPECT_NE(r.stderr_tail.find(message), std::string::npos) << "stderr: " << r.stderr_tail;
    EXPECT_EQ(std::count(r.stderr_tail.begin(), r.stderr_tail.end(), '\n'), 1) << r.stderr_tail;
    EXPECT_FALSE(std::filesystem::exists(path)) << message << ": nothing should be written";
  }
}

TEST_F(CompareTest, AnInterruptedRunKeepsItsRunsAndResumes) {
  const std::string path = out("interrupted.json");
  const std::string flags =
      "--allocators=ultra_simple,glibc --workloads=mixed_lifo --threads=1 --modes=linked --reps=5 --ops=30000000 --out=" +
      path;
  // Interrupt as soon as the first run is on disk.
  const std::string script = runfile("harness/compare") + " " + flags +
                             " >/dev/null 2>&1 & pid=$!; "
                             "for i in $(seq 600); do grep -q '\"seq\": 1' " + path +
                             " 2>/dev/null && break; sleep 0.05; done; "
                             "kill -INT $pid; wait $pid; echo $?";
  const ProcessResult r = run_process({"/bin/sh", "-c", script}, 600);
  ASSERT_TRUE(r.ok()) << r.describe_failure();
  EXPECT_EQ(r.stdout_text, "130\n");
  Json j = load(path);
  EXPECT_EQ(j["status"], "interrupted");
  size_t runs = 0;
  for (const Json& cell : j["cells"]) runs += cell["runs"].size();
  EXPECT_GE(runs, 1u);
  EXPECT_LT(runs, 10u);

  std::vector<std::string> resume = {"--allocators=ultra_simple,glibc", "--workloads=mixed_lifo", "--threads=1",
                                     "--reps=5", "--ops=30000000", "--out=" + path, "--resume"};
  const ProcessResult again = compare(resume);
  ASSERT_EQ(again.exit_code, 0) << again.stderr_tail;
  j = load(path);
  EXPECT_EQ(j["status"], "complete");
  for (const Json& cell : j["cells"]) {
    std::set<int> reps;
    for (const Json& run : cell["runs"]) reps.insert(run["rep"].get<int>());
    EXPECT_EQ(reps, (std::set<int>{1, 2, 3, 4, 5})) << cell["allocator"];
  }
  // A different matrix cannot be resumed into the same file.
  resume[3] = "--reps=6";
  EXPECT_EQ(compare(resume).exit_code, 2);
}

TEST_F(CompareTest, BoundIsRefusedWhereItCannotServeAndEveryCellGetsItsRatio) {
  const std::string path = out("bound.json");
  const ProcessResult r = compare({"--allocators=ultra_simple,bound", "--workloads=mixed_lifo", "--threads=1,2",
                                   "--reps=2", "--smoke", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << "a refused cell is not a failure: " << r.stderr_tail;
  const Json j = load(path);
  ASSERT_EQ(j["cells"].size(), 4u);
  const Json& us1 = j["cells"][0];
  const Json& bound1 = j["cells"][1];
  const Json& bound2 = j["cells"][3];
  EXPECT_EQ(bound1["status"], "complete");
  EXPECT_EQ(bound2["status"], "refused");
  EXPECT_EQ(bound2["refused"], "bound serves one thread only; this run has 2 worker threads");
  EXPECT_EQ(bound2["runs"].size(), 0u);
  EXPECT_DOUBLE_EQ(us1["summary"]["ratio_to_bound"].get<double>(),
                   us1["summary"]["metrics"]["ops_per_sec"]["median"].get<double>() /
                       bound1["summary"]["metrics"]["ops_per_sec"]["median"].get<double>());
  EXPECT_TRUE(j["cells"][2]["summary"]["ratio_to_bound"].is_null());
  EXPECT_NE(r.stdout_text.find("refused: bound serves one thread only"), std::string::npos);
  EXPECT_NE(r.stdout_text.find("t/bound"), std::string::npos);
}

TEST_F(CompareTest, AWorkloadScopedParamReachesOnlyThatWorkload) {
  const std::string path = out("scoped.json");
  const ProcessResult r = compare({"--allocators=ultra_simple", "--workloads=mixed_lifo,random_free", "--threads=1",
                                   "--reps=1", "--smoke", "--param=mixed_lifo.batch=7", "--param=random_free.slots=300",
                                   "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  const Json j = load(path);
  EXPECT_EQ(j["cells"][0]["params"]["workload_params"]["batch"], 7);
  EXPECT_EQ(j["cells"][1]["params"]["workload_params"]["slots"], 300);
  // Unscoped, a flag one of the workloads does not take fails that
  // workload's cells; the others run.
  EXPECT_EQ(compare({"--allocators=ultra_simple", "--workloads=mixed_lifo,random_free", "--threads=1", "--reps=1",
                     "--smoke", "--param=batch=7", "--out=" + out("unscoped.json")})
                .exit_code,
            1);
  const Json unscoped = load(out("unscoped.json"));
  EXPECT_EQ(unscoped["cells"][0]["status"], "complete");
  EXPECT_EQ(unscoped["cells"][1]["error"], "bad parameters: unknown flag --batch for workload random_free");
}

TEST_F(CompareTest, ShardsSplitTheMatrixByGroupAndRecordIt) {
  const std::vector<std::string> matrix = {"--allocators=ultra_simple,glibc", "--workloads=mixed_lifo,random_free",
                                           "--threads=1,2", "--reps=1", "--smoke"};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = matrix;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  ASSERT_EQ(compare(with({"--out=" + out("whole.json")})).exit_code, 0);
  std::set<std::tuple<std::string, int, std::string, std::string>> whole, sharded;
  const auto key = [](const Json& c) {
    return std::make_tuple(c["workload"].get<std::string>(), c["threads"].get<int>(),
                           c["allocator"].get<std::string>(), c["mode"].get<std::string>());
  };
  const Json whole_json = load(out("whole.json"));
  for (const Json& c : whole_json["cells"]) whole.insert(key(c));
  ASSERT_EQ(whole.size(), 8u);
  for (int k = 1; k <= 3; ++k) {
    const std::string path = out("shard" + std::to_string(k) + ".json");
    const ProcessResult r = compare(with({"--shard=" + std::to_string(k) + "/3", "--out=" + path}));
    ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
    const Json j = load(path);
    EXPECT_EQ(j["shard"]["k"], k);
    EXPECT_EQ(j["shard"]["n"], 3);
    ASSERT_EQ(j["shard"]["groups"].size(), 4u) << "every group of the full matrix, with its shard";
    std::set<std::pair<std::string, int>> mine;
    for (const Json& g : j["shard"]["groups"])
      if (g["shard"] == k) mine.insert({g["workload"].get<std::string>(), g["threads"].get<int>()});
    for (const Json& c : j["cells"]) {
      EXPECT_TRUE(mine.count({c["workload"].get<std::string>(), c["threads"].get<int>()})) << c.dump();
      EXPECT_TRUE(sharded.insert(key(c)).second) << "in two shards: " << c["workload"];
    }
    EXPECT_EQ(j["cells"].size(), 2 * mine.size()) << "a group is never split";
  }
  EXPECT_EQ(sharded, whole);
  // Resuming a shard as another, or K outside [1, N]: one line, nothing run.
  const ProcessResult other = compare(with({"--shard=2/3", "--resume", "--out=" + out("shard1.json")}));
  EXPECT_EQ(other.exit_code, 2);
  EXPECT_NE(other.stderr_tail.find("cannot resume " + out("shard1.json") + ": it was run as --shard=1/3"),
            std::string::npos)
      << other.stderr_tail;
  const ProcessResult bad = compare(with({"--shard=4/3", "--out=" + out("bad.json")}));
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.stderr_tail.find("--shard=4/3: K must be in [1, 3]"), std::string::npos) << bad.stderr_tail;
  EXPECT_FALSE(std::filesystem::exists(out("bad.json")));
}

// tools/lab slurm checks a job's flags with --dry-run --shard=1/N before
// queueing it: a parameter a driver rejects must be found whichever shard
// its workload falls in, and nothing is measured or written.
TEST_F(CompareTest, ADryRunChecksEveryShardsCellsAndPrintsThePlan) {
  const std::vector<std::string> matrix = {"--allocators=ultra_simple,glibc", "--workloads=mixed_lifo,random_free",
                                           "--threads=1", "--reps=1", "--smoke", "--out=" + out("dry.json"),
                                           "--dry-run"};
  const auto with = [&](std::vector<std::string> extra) {
    std::vector<std::string> args = matrix;
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  };
  const ProcessResult ok = compare(with({"--shard=1/2"}));
  ASSERT_EQ(ok.exit_code, 0) << ok.stderr_tail;
  EXPECT_NE(ok.stdout_text.find("dry run: 4 cells (4 to run, 0 refused, 0 failing)"), std::string::npos)
      << ok.stdout_text;
  EXPECT_NE(ok.stdout_text.find("shard 1 of 2: 1 of 2 groups"), std::string::npos) << ok.stdout_text;
  EXPECT_NE(ok.stdout_text.find("shard 2 of 2: 1 of 2 groups"), std::string::npos) << ok.stdout_text;
  for (const char* workload : {"mixed_lifo", "random_free"}) {  // one of them is in shard 2
    const ProcessResult bad = compare(with({"--shard=1/2", std::string("--param=") + workload + ".ops=0"}));
    EXPECT_EQ(bad.exit_code, 1) << workload << ": " << bad.stdout_text;
    EXPECT_NE(bad.stderr_tail.find("the cells given it would fail"), std::string::npos) << bad.stderr_tail;
  }
  EXPECT_FALSE(std::filesystem::exists(out("dry.json")));
}

TEST_F(CompareTest, ReportWritesThePhaseReportInOneGo) {
  const std::string path = out("with_report.json");
  const std::string dir = out("report_dir");
  const ProcessResult r = compare({"--allocators=ultra_simple,glibc", "--workloads=mixed_lifo", "--threads=1,2",
                                   "--reps=2", "--smoke", "--out=" + path, "--report=" + dir});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  std::ifstream in(dir + "/report.md");
  const std::string md((std::istreambuf_iterator<char>(in)), {});
  EXPECT_NE(md.find("| mixed_lifo, 1 thr: Mops/s (median) |"), std::string::npos) << md.substr(0, 500);
  EXPECT_TRUE(std::filesystem::exists(dir + "/throughput_mixed_lifo.png"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/scaling.png"));
}

TEST_F(CompareTest, CallgrindCountsInstructionsPerOperation) {
  const std::string path = out("callgrind.json");
  const ProcessResult r = compare({"--allocators=ultra_simple", "--workloads=mixed_lifo", "--threads=1", "--reps=1",
                                   "--smoke", "--callgrind",
                                   "--callgrind-ops=20000", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  const Json cg = load(path)["cells"][0]["callgrind"];
  ASSERT_TRUE(cg.contains("instructions_per_op")) << cg.dump();
  EXPECT_EQ(cg["ops"], 20000);
  EXPECT_GT(cg["instructions_per_op"].get<double>(), 5);
  EXPECT_LT(cg["instructions_per_op"].get<double>(), 10000);
}

TEST_F(CompareTest, ByDefaultVariantsRunInBothModesAndPeersOnceUnderPreload) {
  const std::string path = out("modes.json");
  const ProcessResult r = compare({"--allocators=ultra_simple,bound,glibc", "--workloads=mixed_lifo", "--threads=1",
                                   "--modes=linked,preload", "--reps=1", "--smoke", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  const Json j = load(path);
  std::vector<std::string> cells;
  for (const Json& c : j["cells"]) cells.push_back(c["allocator"].get<std::string>() + "/" + c["mode"].get<std::string>());
  EXPECT_EQ(cells, (std::vector<std::string>{"ultra_simple/linked", "ultra_simple/preload", "bound/linked", "glibc/preload"}))
      << "bound has no library: linked only, no refused twin";
  const Json& preloaded = j["cells"][1]["runs"][0]["record"];
  EXPECT_EQ(preloaded["allocator"], "ultra_simple");
  EXPECT_EQ(preloaded["allocator_kind"], "hakmem");
  EXPECT_EQ(preloaded["mode"], "preload");
  EXPECT_NE(preloaded["malloc_provider"].get<std::string>().find("libhakmem_ultra_simple.so"), std::string::npos)
      << preloaded["malloc_provider"];
  EXPECT_TRUE(j["cells"][1]["summary"]["ratio_to_baseline"].is_number()) << "to glibc's one cell";
  EXPECT_TRUE(j["cells"][1]["summary"]["ratio_to_bound"].is_number()) << "to bound's linked cell";
  EXPECT_NE(r.stdout_text.find("ultra_simple   linked (inline)"), std::string::npos) << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("ultra_simple   preload"), std::string::npos) << r.stdout_text;
}

TEST_F(CompareTest, PreloadModeRunsEveryoneOnTheGlibcDriver) {
  const std::string path = out("preload.json");
  const ProcessResult r = compare({"--allocators=bound,glibc,jemalloc", "--workloads=mixed_lifo", "--threads=1",
                                   "--modes=preload", "--reps=2", "--smoke", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  const Json j = load(path);
  EXPECT_EQ(j["config"]["modes"], Json({"preload"}));
  ASSERT_EQ(j["cells"].size(), 3u);
  const Json& bound = j["cells"][0];
  EXPECT_EQ(bound["mode"], "preload");
  EXPECT_EQ(bound["status"], "refused");
  EXPECT_NE(bound["refused"].get<std::string>().find("has no preload library"), std::string::npos);
  for (const Json& cell : {j["cells"][1], j["cells"][2]}) {
    EXPECT_EQ(cell["mode"], "preload");
    EXPECT_EQ(cell["status"], "complete") << cell.dump();
    for (const Json& run : cell["runs"]) {
      EXPECT_EQ(run["record"]["mode"], cell["allocator"] == "glibc" ? "linked" : "preload")
          << "glibc's preload cell is the glibc driver itself, nothing preloaded";
      EXPECT_EQ(run["record"]["allocator"], cell["allocator"]);
    }
  }
  EXPECT_EQ(j["cells"][2]["runs"][0]["record"]["malloc_provider"], "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2");
  EXPECT_NE(r.stdout_text.find("jemalloc       preload"), std::string::npos) << r.stdout_text;

  const ProcessResult bad = compare({"--modes=static", "--smoke", "--out=" + out("bad-mode.json")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.stderr_tail.find("--modes takes linked and preload, got 'static'"), std::string::npos);
}

// Two builds in one interleaved run: another build's library, named on the
// command line, runs preloaded beside the variants, and can be the baseline.
TEST_F(CompareTest, ALibraryFromAnotherBuildRunsPreloadedBesideTheVariants) {
  const std::string library = runfile("variants/libhakmem_ultra_simple.so");
  const std::string path = out("library.json");
  const ProcessResult r = compare({"--allocators=ultra_simple", "--library=before=" + library, "--baseline=before",
                                   "--workloads=mixed_lifo", "--threads=1", "--modes=linked,preload", "--reps=2",
                                   "--smoke", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  const Json j = load(path);
  EXPECT_EQ(j["config"]["libraries"]["before"], library);
  EXPECT_EQ(j["config"]["allocators"], Json({"ultra_simple", "before"}));
  ASSERT_EQ(j["cells"].size(), 3u) << "ultra_simple linked and preload, and the library preloaded only";
  const Json& before = j["cells"][2];
  EXPECT_EQ(before["allocator"], "before");
  EXPECT_EQ(before["mode"], "preload");
  EXPECT_EQ(before["allocator_kind"], "hakmem") << "the driver that loaded it saw hakmem's hak_variant_name";
  EXPECT_EQ(before["status"], "complete") << before.dump();
  for (const Json& run : before["runs"]) EXPECT_EQ(run["record"]["allocator"], "before");
  EXPECT_TRUE(j["cells"][1]["summary"]["ratio_to_baseline"].is_number()) << "ultra_simple over the library";

  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--library=before"}, "--library takes NAME=PATH, got 'before'"},
      {{"--library=glibc=" + library}, "--library: the name 'glibc' is already an allocator"},
      {{"--library=Before!=" + library}, "is not a plain allocator name"},
      {{"--library=before=/nonexistent/lib.so"}, "--library=before=/nonexistent/lib.so: not a readable file"},
      {{"--library=before=" + library, "--modes=linked"}, "--library allocators run in preload mode only"},
  };
  for (const auto& [args, message] : bad) {
    std::vector<std::string> a = args;
    a.push_back("--smoke");
    a.push_back("--out=" + out("bad-library.json"));
    const ProcessResult b = compare(a);
    EXPECT_EQ(b.exit_code, 2) << args[0];
    EXPECT_NE(b.stderr_tail.find(message), std::string::npos) << b.stderr_tail;
    EXPECT_FALSE(std::filesystem::exists(out("bad-library.json"))) << "nothing written for bad flags";
  }
}

// One variant under several option settings, as rows of one interleaved
// run (issue 13): --hakmem-env multiplies the hakmem variants, a name
// written VARIANT[key=value,...] is one such row, and each cell records
// its settings; the drivers ran with them (the record's learning says so).
TEST_F(CompareTest, OneVariantUnderSeveralSettingsRunsAsRowsOfOneRun) {
  const std::string path = out("settings.json");
  const ProcessResult r =
      compare({"--allocators=ultra_simple,glibc,magazine[purge_delay_ms=100]",
               "--hakmem-env=LEARN=off|on", "--workloads=mixed_lifo", "--threads=1", "--modes=preload", "--reps=2",
               "--baseline=ultra_simple[learn=off]", "--smoke", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  const Json j = load(path);
  std::vector<std::string> names;
  for (const Json& c : j["cells"]) names.push_back(c["allocator"].get<std::string>());
  EXPECT_EQ(names, (std::vector<std::string>{"ultra_simple[learn=off]", "ultra_simple[learn=on]", "glibc",
                                             "magazine[purge_delay_ms=100,learn=off]",
                                             "magazine[purge_delay_ms=100,learn=on]"}))
      << "a name with settings gets the flag's too";
  const auto cell = [&](size_t i) { return j["cells"][i]; };
  EXPECT_EQ(cell(0)["settings"], (Json{{"HAKMEM_LEARN", "off"}}));
  EXPECT_EQ(cell(1)["settings"], (Json{{"HAKMEM_LEARN", "on"}}));
  EXPECT_FALSE(cell(2).contains("settings"));
  EXPECT_EQ(cell(4)["settings"], (Json{{"HAKMEM_LEARN", "on"}, {"HAKMEM_PURGE_DELAY_MS", "100"}}));
  for (size_t i : {0, 1}) {
    EXPECT_EQ(cell(i)["mode"], "preload");
    EXPECT_EQ(cell(i)["status"], "complete") << cell(i).dump();
    for (const Json& run : cell(i)["runs"]) {
      EXPECT_EQ(run["record"]["allocator"], cell(i)["allocator"]);
      EXPECT_EQ(run["record"]["learning"]["mode"], i == 0 ? "off" : "on");
    }
  }
  EXPECT_EQ(cell(1)["runs"][0]["record"]["learning"]["interval_ms"], 20) << "on starts the learner thread";
  EXPECT_DOUBLE_EQ(cell(0)["summary"]["ratio_to_baseline"].get<double>(), 1.0) << "a setting row is the baseline";
  EXPECT_FALSE(cell(2)["runs"][0]["record"].contains("learning")) << "glibc has no learner";
  EXPECT_NE(r.stdout_text.find("ultra_simple[learn=on]                 preload"), std::string::npos)
      << "the allocator column is as wide as its longest name: " << r.stdout_text;
  EXPECT_NE(r.stdout_text.find(" learning "), std::string::npos) << "the learning column";

  const std::vector<std::pair<std::vector<std::string>, std::string>> bad = {
      {{"--hakmem-env=learn"}, "--hakmem-env takes KEY=V1|V2|..., got 'learn'"},
      {{"--hakmem-env=learn=on||off"}, "--hakmem-env=learn=on||off: an empty value"},
      {{"--allocators=glibc[learn=on]"}, "settings are hakmem options (HAKMEM_<KEY>), and glibc is not hakmem"},
      {{"--allocators=bound[learn=on]"}, "bound has no library to preload"},
      {{"--allocators=nosuch[learn=on]"}, "'nosuch' is not an allocator"},
      {{"--allocators=ultra_simple[Learn=on]"}, "'Learn=on' is not key=value"},
      {{"--allocators=ultra_simple[learn=on,learn=off]"}, "'learn' is given twice"},
      {{"--allocators=ultra_simple[learn=on"}, "settings are written BASE[key=value,...]"},
      {{"--allocators=ultra_simple[learn=on]", "--modes=linked"}, "run in preload mode only"},
  };
  for (const auto& [args, message] : bad) {
    std::vector<std::string> a = args;
    a.push_back("--smoke");
    a.push_back("--modes=preload");
    if (args.size() == 2) a.pop_back();  // the case that sets --modes itself
    a.push_back("--out=" + out("bad-settings.json"));
    const ProcessResult b = compare(a);
    EXPECT_EQ(b.exit_code, 2) << args[0];
    EXPECT_NE(b.stderr_tail.find(message), std::string::npos) << args[0] << ": " << b.stderr_tail;
    EXPECT_FALSE(std::filesystem::exists(out("bad-settings.json"))) << "nothing written for bad flags";
  }
}

TEST_F(CompareTest, HelpIsGeneratedFromTheFlagTable) {
  const ProcessResult r = compare({"--help"});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  // One line per flag of the table, with the default of the option it sets.
  for (const char* line : {"  --reps=N             repetitions per cell; use 5 or more to compare (default: 5)\n",
                           "  --timeout=N          per-run limit in seconds;", "  --threads=LIST       comma-separated thread counts (default: 1,2)\n",
                           "  --baseline=NAME      allocator the ratio column divides by (default: glibc)\n",
                           "  --callgrind-ops=N    operations for the callgrind runs (default: 1000000)\n",
                           "  --resume             continue the interrupted run in --out;", "  --help               this text\n"})
    EXPECT_NE(r.stdout_text.find(line), std::string::npos) << "missing: " << line << "\nin:\n" << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("(default: all: mixed_lifo, random_free,"), std::string::npos)
      << "the workloads default lists what the drivers hold: " << r.stdout_text;
  EXPECT_NE(r.stdout_text.find("phase_change; named only: soak"), std::string::npos)
      << "soak runs only when named: " << r.stdout_text;
}

}  // namespace
}  // namespace lab
