// programs, end to end: the whole suite at --size=smoke through the real
// binary, under glibc, the peers and every hakmem library; then each kind
// of bad input, which must fail its own cells with a one-line reason while
// every other cell completes; bad flags; --help.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>

#include "harness/cli.h"
#include "harness/programs_suite.h"
#include "harness/results.h"
#include "harness/subprocess.h"
#include "harness/test_support.h"

namespace lab {
namespace {

using testing_support::run_runfile;

std::string temp(const std::string& name) { return ::testing::TempDir() + "/" + name; }

ProcessResult programs(std::vector<std::string> args) { return run_runfile("harness/programs", std::move(args), 600); }

Json load(const std::string& path) {
  std::ifstream in(path);
  return Json::parse(in);
}

const Json* find_cell(const Json& results, const std::string& program, const std::string& allocator) {
  for (const Json& c : results["cells"])
    if (c["workload"] == program && c["allocator"] == allocator) return &c;
  return nullptr;
}

std::string error_of(const Json& results, const std::string& program, const std::string& allocator) {
  const Json* c = find_cell(results, program, allocator);
  return c != nullptr && (*c)["error"].is_string() ? (*c)["error"].get<std::string>() : "";
}

// The stderr lines that start with "error: ".
std::vector<std::string> error_lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("error: ", 0) == 0) lines.push_back(line);
  return lines;
}

// The whole suite, smoke-sized, one repetition, every default allocator:
// glibc, the peers and every hakmem variant that has a library.
class WholeSuite : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(temp("whole.json"));
    run_ = new ProcessResult(programs({"--size=smoke", "--reps=1", "--out=" + *path_}));
    if (std::filesystem::exists(*path_)) results_ = new Json(load(*path_));
  }
  static void TearDownTestSuite() {
    delete path_;
    delete run_;
    delete results_;
  }
  static std::string* path_;
  static ProcessResult* run_;
  static Json* results_;
};
std::string* WholeSuite::path_ = nullptr;
ProcessResult* WholeSuite::run_ = nullptr;
Json* WholeSuite::results_ = nullptr;

TEST_F(WholeSuite, EveryCellCompletes) {
  ASSERT_EQ(run_->exit_code, 0) << run_->describe_failure() << "\n" << run_->stderr_tail;
  ASSERT_NE(results_, nullptr);
  const Json& j = *results_;
  EXPECT_EQ(j["kind"], "hakmem-lab/compare");
  EXPECT_EQ(j["status"], "complete");
  EXPECT_EQ(j["config"]["params"]["suite"], "programs");
  EXPECT_EQ(j["config"]["params"]["size"], "smoke");
  EXPECT_EQ(j["cells"].size(), program_suite().size() * j["config"]["allocators"].size());
  for (const Json& c : j["cells"]) {
    EXPECT_EQ(c["status"], "complete") << c["workload"] << " under " << c["allocator"] << ": " << c["error"];
    EXPECT_EQ(c["mode"], "preload");
    EXPECT_EQ(c["threads"], find_program(c["workload"])->threads);
    EXPECT_EQ(c["runs"].size(), 1u);
  }
}

TEST_F(WholeSuite, EveryPeerAndHakmemVariantWithALibraryIsInTheDefaultRun) {
  ASSERT_NE(results_, nullptr);
  const Json& allocators = (*results_)["config"]["allocators"];
  for (const char* name : {"glibc", "jemalloc", "tcmalloc", "mimalloc"})
    EXPECT_NE(std::find(allocators.begin(), allocators.end(), name), allocators.end()) << name;
  for (const std::string& name : split_list(LAB_PRELOAD_VARIANTS))
    EXPECT_NE(std::find(allocators.begin(), allocators.end(), name), allocators.end()) << name;
  EXPECT_EQ(std::find(allocators.begin(), allocators.end(), "bound"), allocators.end())
      << "bound has no library: it is named explicitly or not at all";
}

TEST_F(WholeSuite, EveryOutputIsByteIdenticalToGlibcs) {
  ASSERT_NE(results_, nullptr);
  for (const Program& p : program_suite()) {
    const Json* glibc = find_cell(*results_, p.name, "glibc");
    ASSERT_NE(glibc, nullptr) << p.name;
    const Json& reference = (*glibc)["params"]["reference"];
    ASSERT_TRUE(reference["output_checksum"].is_string()) << p.name;
    for (const Json& c : (*results_)["cells"]) {
      if (c["workload"] != p.name) continue;
      for (const Json& run : c["runs"]) {
        EXPECT_EQ(run["record"]["output_checksum"], reference["output_checksum"]) << p.name << " under "
                                                                                   << c["allocator"];
        EXPECT_EQ(run["record"]["exit_status"], 0);
      }
    }
  }
}

TEST_F(WholeSuite, EachRunIsOneOperationMeasuredFromRusage) {
  ASSERT_NE(results_, nullptr);
  for (const Json& c : (*results_)["cells"]) {
    for (const Json& run : c["runs"]) {
      const Json& r = run["record"];
      const std::string where = c["workload"].get<std::string>() + " under " + c["allocator"].get<std::string>();
      EXPECT_EQ(r["workload"], c["workload"]);
      EXPECT_EQ(r["allocator"], c["allocator"]);
      EXPECT_EQ(r["ops"], 1);
      EXPECT_GT(r["seconds"].get<double>(), 0) << where;
      EXPECT_DOUBLE_EQ(r["ops_per_sec"].get<double>(), 1 / r["seconds"].get<double>()) << where;
      EXPECT_GT(r["cpu_seconds"].get<double>(), 0) << where;
      EXPECT_GT(r["peak_rss_bytes"].get<int64_t>(), 1 << 20) << where;
      EXPECT_TRUE(r["major_faults"].is_number()) << where;
      EXPECT_TRUE(r["voluntary_context_switches"].is_number()) << where;
      EXPECT_EQ(r["params"]["command"], c["params"]["command"]) << where;
      EXPECT_EQ(r["threads"], c["threads"]);
    }
  }
}

// The malloc each program got is the allocator's: libc's for glibc, the
// preloaded library for every other.
TEST_F(WholeSuite, TheMallocProviderIsTheAllocatorsLibrary) {
  ASSERT_NE(results_, nullptr);
  const std::map<std::string, std::string> library = {{"glibc", "/libc.so.6"},
                                                      {"jemalloc", "/libjemalloc.so"},
                                                      {"tcmalloc", "/libtcmalloc_minimal.so"},
                                                      {"mimalloc", "/libmimalloc.so"}};
  for (const Json& c : (*results_)["cells"]) {
    const std::string allocator = c["allocator"];
    const std::string expected =
        c["allocator_kind"] == "hakmem" ? "/libhakmem_" + allocator + ".so" : library.at(allocator);
    for (const Json& run : c["runs"])
      EXPECT_NE(run["record"]["malloc_provider"].get<std::string>().find(expected), std::string::npos)
          << allocator << ": " << run["record"]["malloc_provider"];
  }
}

TEST_F(WholeSuite, PrintsATablePerProgram) {
  for (const Program& p : program_suite())
    EXPECT_NE(run_->stdout_text.find(std::string("\n") + p.name + ", "), std::string::npos) << p.name;
  EXPECT_NE(run_->stdout_text.find("output = glibc's"), std::string::npos);
  EXPECT_NE(run_->stdout_text.find("xglibc"), std::string::npos);
}

TEST(ProgramsInterleaving, RepetitionOneOfEveryCellRunsBeforeRepetitionTwo) {
  const std::string path = temp("interleaved.json");
  const ProcessResult r = programs({"--size=smoke", "--reps=2", "--programs=lua,sqlite3",
                                    "--allocators=glibc,mimalloc", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  const Json j = load(path);
  ASSERT_EQ(j["cells"].size(), 4u);
  for (const Json& c : j["cells"]) {
    ASSERT_EQ(c["runs"].size(), 2u);
    for (const Json& run : c["runs"]) {
      const int rep = run["rep"], seq = run["seq"];
      EXPECT_GT(seq, (rep - 1) * 4);
      EXPECT_LE(seq, rep * 4);
    }
  }
}

// --hakmem-env makes one row per setting, each program run with the
// setting's HAKMEM_<KEY> in its environment; glibc's row has none.
TEST(ProgramsSettings, EachSettingIsARowWhoseRunsCarryItsOption) {
  const std::string path = temp("settings.json");
  const ProcessResult r = programs({"--size=smoke", "--reps=1", "--programs=lua", "--allocators=glibc,ultra_simple",
                                    "--hakmem-env=learn=off|on", "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  const Json j = load(path);
  ASSERT_EQ(j["cells"].size(), 3u);
  for (const std::string value : {"off", "on"}) {
    const Json* c = find_cell(j, "lua", "ultra_simple[learn=" + value + "]");
    ASSERT_NE(c, nullptr) << value;
    ASSERT_TRUE((*c)["settings"].is_object()) << c->dump();
    EXPECT_EQ((*c)["settings"].size(), 1u);
    EXPECT_EQ((*c)["settings"]["HAKMEM_LEARN"], value);
    ASSERT_EQ((*c)["runs"].size(), 1u);
    EXPECT_EQ((*c)["runs"][0]["record"]["mode"], "preload");
    const Json& env = (*c)["runs"][0]["record"]["params"]["env"];
    EXPECT_NE(std::find(env.begin(), env.end(), "HAKMEM_LEARN=" + value), env.end()) << env.dump();
  }
  const Json* glibc = find_cell(j, "lua", "glibc");
  ASSERT_NE(glibc, nullptr);
  EXPECT_FALSE(glibc->contains("settings"));
}

// --keep-inputs: the inputs stay where the researcher asked, and the command
// a cell records reruns the program by hand, to the same output.
TEST(ProgramsKeepInputs, TheInputsStayAndTheRecordedCommandRerunsTheProgram) {
  const std::string dir = temp("kept-inputs");
  const std::string path = temp("kept.json");
  const ProcessResult r = programs({"--size=smoke", "--reps=1", "--programs=sqlite3,g++", "--allocators=glibc",
                                    "--keep-inputs=" + dir, "--out=" + path});
  ASSERT_EQ(r.exit_code, 0) << r.stderr_tail;
  EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/sqlite3/orders.sql"));
  EXPECT_TRUE(std::filesystem::is_regular_file(dir + "/g++/generated.cc"));
  const Json j = load(path);
  for (const std::string program : {"sqlite3", "g++"}) {
    const Json* c = find_cell(j, program, "glibc");
    ASSERT_NE(c, nullptr) << program;
    const auto argv = (*c)["params"]["command"].get<std::vector<std::string>>();
    const auto env = (*c)["params"]["env"].get<std::vector<std::string>>();
    const ProcessResult again = run_process(argv, 120, env);
    EXPECT_EQ(again.exit_code, 0) << program << ": " << again.stderr_tail;
  }
  // A second run into the same directory would mix two runs' inputs.
  const ProcessResult twice = programs({"--size=smoke", "--reps=1", "--programs=sqlite3", "--allocators=glibc",
                                        "--keep-inputs=" + dir, "--out=" + temp("kept2.json")});
  EXPECT_EQ(twice.exit_code, 2);
  EXPECT_NE(twice.stderr_tail.find("error: --keep-inputs=" + dir + ": already exists (name a new directory)\n"),
            std::string::npos)
      << twice.stderr_tail;
  EXPECT_EQ(twice.stderr_tail.find("preparing"), std::string::npos) << "nothing runs: " << twice.stderr_tail;
  EXPECT_FALSE(std::filesystem::exists(temp("kept2.json"))) << "no results file for a run that never started";
}

// One run with every kind of bad input, each aimed at its own cells.
class BadInput : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    path_ = new std::string(temp("bad.json"));
    run_ = new ProcessResult(programs({"--size=smoke", "--reps=1", "--programs=python3,lua,sqlite3",
                                       "--allocators=glibc,jemalloc,tcmalloc,mimalloc,bound,nope",
                                       "--inject-fault=missing-library@jemalloc", "--inject-fault=exit@tcmalloc",
                                       "--inject-fault=output@mimalloc", "--inject-fault=missing-program@lua",
                                       "--out=" + *path_}));
    if (std::filesystem::exists(*path_)) results_ = new Json(load(*path_));
  }
  static void TearDownTestSuite() {
    delete path_;
    delete run_;
    delete results_;
  }
  // The one-line error on stderr that mentions `text`.
  static std::string stderr_line(const std::string& text) {
    for (const std::string& line : error_lines(run_->stderr_tail))
      if (line.find(text) != std::string::npos) return line;
    return "";
  }
  static std::string* path_;
  static ProcessResult* run_;
  static Json* results_;
};
std::string* BadInput::path_ = nullptr;
ProcessResult* BadInput::run_ = nullptr;
Json* BadInput::results_ = nullptr;

TEST_F(BadInput, TheOtherCellsCompleteAndTheRunExitsOne) {
  EXPECT_EQ(run_->exit_code, 1) << run_->stderr_tail;
  ASSERT_NE(results_, nullptr);
  EXPECT_EQ((*results_)["status"], "complete");
  for (const char* program : {"python3", "sqlite3"})
    EXPECT_EQ(find_cell(*results_, program, "glibc")->at("status"), "complete") << program;
  EXPECT_NE(run_->stdout_text.find("FAILED: "), std::string::npos) << "failures are in the table";
}

TEST_F(BadInput, AMissingLibraryFailsItsAllocatorsCells) {
  ASSERT_NE(results_, nullptr);
  for (const char* program : {"python3", "sqlite3"}) {
    const std::string error = error_of(*results_, program, "jemalloc");
    EXPECT_NE(error.find("jemalloc: with LD_PRELOAD=/nonexistent/hakmem-lab-injected-fault/libjemalloc.so.2 malloc "
                         "resolves to "),
              std::string::npos)
        << error;
    EXPECT_NE(error.find("cannot be preloaded"), std::string::npos) << "ld.so's own words: " << error;
    EXPECT_EQ(find_cell(*results_, program, "jemalloc")->at("runs").size(), 0u);
  }
  EXPECT_NE(stderr_line("libjemalloc.so.2"), "");
}

TEST_F(BadInput, AMissingProgramFailsItsCells) {
  ASSERT_NE(results_, nullptr);
  // jemalloc's lua cell failed first for its library.
  for (const char* allocator : {"glibc", "tcmalloc", "mimalloc"})
    EXPECT_NE(error_of(*results_, "lua", allocator).find("lua5.4 is not installed (Debian package lua5.4"),
              std::string::npos)
        << allocator << ": " << error_of(*results_, "lua", allocator);
  EXPECT_EQ(find_cell(*results_, "lua", "glibc")->at("status"), "failed");
  EXPECT_NE(stderr_line("lua5.4 is not installed"), "");
}

TEST_F(BadInput, ANonZeroExitFailsItsCell) {
  ASSERT_NE(results_, nullptr);
  const std::string python = error_of(*results_, "python3", "tcmalloc");
  EXPECT_EQ(python.rfind("python3 under tcmalloc exited with code 2 (glibc's reference run: 0): ", 0), 0u) << python;
  const std::string sqlite = error_of(*results_, "sqlite3", "tcmalloc");
  EXPECT_EQ(sqlite.rfind("sqlite3 under tcmalloc exited with code 1 (glibc's reference run: 0)", 0), 0u) << sqlite;
  EXPECT_NE(run_->stdout_text.find("FAILED: python3 under tcmalloc exited with code 2"), std::string::npos)
      << "the table shows why";
}

TEST_F(BadInput, AChangedOutputFailsItsCellNamingBothChecksums) {
  ASSERT_NE(results_, nullptr);
  for (const char* program : {"python3", "sqlite3"}) {
    const std::string reference =
        find_cell(*results_, program, "glibc")->at("params")["reference"]["output_checksum"];
    const std::string error = error_of(*results_, program, "mimalloc");
    EXPECT_EQ(error.rfind(std::string(program) + " under mimalloc: output differs from glibc's (fnv1a64:", 0), 0u)
        << error;
    EXPECT_NE(error.find("vs glibc's " + reference + ")"), std::string::npos) << error;
  }
  EXPECT_NE(run_->stdout_text.find("FAILED: python3 under mimalloc: output differs"), std::string::npos)
      << "the table shows why";
}

TEST_F(BadInput, AnAllocatorWithoutALibraryOrAnUnknownNameFailsItsCells) {
  ASSERT_NE(results_, nullptr);
  EXPECT_NE(error_of(*results_, "python3", "bound").find("has no preload library"), std::string::npos)
      << error_of(*results_, "python3", "bound");
  EXPECT_NE(error_of(*results_, "python3", "nope").find("unknown allocator 'nope' (known: "), std::string::npos);
}

TEST_F(BadInput, EveryReasonIsOneLine) {
  ASSERT_NE(results_, nullptr);
  for (const Json& c : (*results_)["cells"])
    for (const Json& f : c["failures"])
      EXPECT_EQ(f["reason"].get<std::string>().find('\n'), std::string::npos) << f["reason"];
}

TEST(ProgramsFlags, BadFlagsExitTwoWithOneLineBeforeAnythingRuns) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--size=huge", "error: --size must be smoke, small or full, got 'huge'"},
      {"--reps=0", "error: --reps"},
      {"--timeout=0", "error: --timeout"},
      {"--bogus", "error: unknown flag --bogus"},
      {"--programs=", "error: --programs needs at least one name"},
      {"--hakmem-env=learn", "error: --hakmem-env takes KEY=V1|V2|..., got 'learn'"},
      {"--allocators=glibc[learn=on]", "error: allocator 'glibc[learn=on]': settings are hakmem options"},
      {"--inject-fault=explode@glibc", "error: --inject-fault takes missing-library@ALLOCATOR"},
  };
  for (const auto& [flag, message] : cases) {
    const std::string path = temp("never-written.json");
    const ProcessResult r = programs({flag, "--size=smoke", "--out=" + path});
    EXPECT_EQ(r.exit_code, 2) << flag;
    EXPECT_EQ(r.stderr_tail.rfind(message, 0), 0u) << flag << ": " << r.stderr_tail;
    EXPECT_EQ(std::count(r.stderr_tail.begin(), r.stderr_tail.end(), '\n'), 1) << flag << ": " << r.stderr_tail;
    EXPECT_FALSE(std::filesystem::exists(path)) << flag;
  }
}

TEST(ProgramsFlags, AnOutThatCannotBeWrittenStopsTheRunBeforeAnythingRuns) {
  // Under a file, not a directory: unwritable even for root.
  const std::string file = temp("a-file");
  std::ofstream(file) << "x";
  const ProcessResult r = programs({"--size=smoke", "--out=" + file + "/results.json"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(r.stderr_tail.rfind("error: cannot write " + file + "/results.json", 0), 0u) << r.stderr_tail;
  EXPECT_EQ(r.stderr_tail.find("preparing"), std::string::npos) << r.stderr_tail;
}

TEST(ProgramsFlags, HelpListsTheProgramsAndFlags) {
  const ProcessResult r = programs({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const Program& p : program_suite()) {
    EXPECT_NE(r.stdout_text.find(std::string("\n  ") + p.name + " "), std::string::npos) << p.name;
    EXPECT_NE(r.stdout_text.find(p.executable), std::string::npos) << p.name;
  }
  for (const char* flag : {"--programs=LIST", "--allocators=LIST", "--size=SIZE", "--reps=N", "--out=FILE",
                           "--timeout=N", "--help"})
    EXPECT_NE(r.stdout_text.find(flag), std::string::npos) << flag;
}

}  // namespace
}  // namespace lab
