// The suite's generated inputs: the same seed gives the same bytes (the
// reference checksum means something only then), another seed other bytes,
// and the size parameter scales the work.
#include "harness/programs_inputs.h"

#include <gtest/gtest.h>

#include <set>
#include <sstream>

#include "harness/programs_suite.h"

namespace lab {
namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

TEST(ProgramInputs, TheSameSeedGivesTheSameBytes) {
  EXPECT_EQ(sql_script(42, 100), sql_script(42, 100));
  EXPECT_EQ(cpp_source(42, 3), cpp_source(42, 3));
  EXPECT_EQ(assembly_module(42, 2, 50), assembly_module(42, 2, 50));
  EXPECT_EQ(assembly_entry(42), assembly_entry(42));
}

TEST(ProgramInputs, AnotherSeedGivesOtherBytes) {
  EXPECT_NE(sql_script(42, 100), sql_script(43, 100));
  EXPECT_NE(cpp_source(42, 3), cpp_source(43, 3));
  EXPECT_NE(assembly_module(42, 2, 50), assembly_module(43, 2, 50));
}

TEST(ProgramInputs, TheSizeScalesTheWork) {
  EXPECT_EQ(count(sql_script(1, 1000), "INSERT INTO orders"), 1000u);
  EXPECT_EQ(count(sql_script(1, 1000), "INSERT INTO customer"), 101u);
  EXPECT_EQ(count(cpp_source(1, 7), "template <class T> struct Box_"), 7u);
  EXPECT_EQ(count(assembly_module(1, 0, 60), "@function"), 60u);
}

// Every function a module calls is defined by some module at or before it,
// so the linker resolves them all.
TEST(ProgramInputs, EveryCalledFunctionIsDefined) {
  std::set<std::string> defined, called;
  for (int m = 0; m < 4; ++m) {
    std::istringstream lines(assembly_module(7, m, 40));
    for (std::string line; std::getline(lines, line);) {
      if (line.rfind("\t.globl ", 0) == 0) EXPECT_TRUE(defined.insert(line.substr(8)).second) << "twice: " << line;
      if (line.rfind("\tcall ", 0) == 0) called.insert(line.substr(6));
    }
  }
  for (const std::string& f : called) EXPECT_TRUE(defined.count(f)) << f;
  const std::string entry = assembly_entry(7);
  const size_t call = entry.find("\tcall ") + 6;
  EXPECT_TRUE(defined.count(entry.substr(call, entry.find('\n', call) - call))) << entry;
}

TEST(SuiteSize, ParsesItsThreeNames) {
  for (const char* name : {"smoke", "small", "full"}) {
    const auto size = parse_suite_size(name);
    ASSERT_TRUE(size) << name;
    EXPECT_STREQ(suite_size_name(*size), name);
  }
  EXPECT_FALSE(parse_suite_size("huge"));
  EXPECT_FALSE(parse_suite_size(""));
}

TEST(ProgramSuite, HasSixProgramsTwoOfThemMultiThreaded) {
  int multi = 0;
  for (const Program& p : program_suite()) {
    EXPECT_EQ(std::string(p.executable).rfind("/usr/bin/", 0), 0u) << p.name << ": a Debian package's program";
    EXPECT_EQ(find_program(p.name), &p);
    multi += p.threads > 1;
  }
  EXPECT_GE(program_suite().size(), 6u);
  EXPECT_GE(multi, 2);
  EXPECT_EQ(find_program("nope"), nullptr);
}

}  // namespace
}  // namespace lab
