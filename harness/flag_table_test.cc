// The flag table: --help's flag section is generated from it, with each
// default read from the option it binds, and parsing accepts exactly its
// flags.
#include "harness/flag_table.h"

#include <gtest/gtest.h>

#include <vector>

namespace lab {
namespace {

struct Options {
  int reps = 7;
  std::optional<int64_t> ops;
  double min_effect = 0.25;
  std::string out;
  std::vector<std::string> names = {"a", "b"};
  std::vector<int> threads = {1, 2};
  bool smoke = false;
};

FlagTable table(Options* o) {
  FlagTable t;
  t.integer("reps", &o->reps, 1, 100, "repetitions");
  t.optional_integer("ops", &o->ops, 1, 1000, "operations", "each workload's own");
  t.number("min-effect", &o->min_effect, 0, 100, "smallest drop, in percent", 0.01);
  t.text("out", "FILE", &o->out, "where to write", "a new file");
  t.list("names", &o->names, "names", "a,b");
  t.int_list("threads", &o->threads, 1, 64, "thread counts");
  t.toggle("smoke", &o->smoke, "tiny runs");
  return t;
}

std::optional<std::string> parse(const FlagTable& t, std::vector<std::string> args, bool* help = nullptr) {
  std::vector<char*> argv = {const_cast<char*>("cmd")};
  for (std::string& a : args) argv.push_back(a.data());
  bool ignored = false;
  return t.parse(static_cast<int>(argv.size()), argv.data(), help != nullptr ? help : &ignored);
}

TEST(FlagTable, UsageListsEveryFlagWithTheDefaultOfItsOption) {
  Options o;
  const std::string usage = table(&o).usage();
  for (const char* line : {"  --reps=N             repetitions (default: 7)\n",
                           "  --ops=N              operations (default: each workload's own)\n",
                           "  --min-effect=X       smallest drop, in percent (default: 25)\n",
                           "  --out=FILE           where to write (default: a new file)\n",
                           "  --threads=LIST       thread counts (default: 1,2)\n",
                           "  --smoke              tiny runs\n", "  --help               this text\n"}) {
    EXPECT_NE(usage.find(line), std::string::npos) << "missing: " << line << "in:\n" << usage;
  }
  Options changed;
  changed.reps = 21;
  EXPECT_NE(table(&changed).usage().find("repetitions (default: 21)"), std::string::npos)
      << "the default shown is the option's value, not a second copy of it";
}

TEST(FlagTable, ParsingSetsTheBoundOptions) {
  Options o;
  const FlagTable t = table(&o);
  ASSERT_EQ(parse(t, {"--reps=9", "--ops", "1k", "--min-effect=10", "--out=x.json", "--names=c", "--threads=4,8",
                      "--smoke"}),
            std::nullopt);
  EXPECT_EQ(o.reps, 9);
  EXPECT_EQ(o.ops, 1000);
  EXPECT_DOUBLE_EQ(o.min_effect, 0.10);
  EXPECT_EQ(o.out, "x.json");
  EXPECT_EQ(o.names, std::vector<std::string>{"c"});
  EXPECT_EQ(o.threads, (std::vector<int>{4, 8}));
  EXPECT_TRUE(o.smoke);
}

TEST(FlagTable, BadInputIsAOneLineErrorNamingTheFlag) {
  Options o;
  const FlagTable t = table(&o);
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--bogus"}, "unknown flag --bogus"},
      {{"--min_effect=0"}, "--min-effect must be a number in (0, 100], got '0'"},
      {{"--reps=0"}, "--reps must be an integer in [1, 100], got '0'"},
      {{"--reps=2", "--reps=3"}, "--reps is given twice"},
      {{"--threads=1,0"}, "--threads must be an integer in [1, 64], got '0'"},
      {{"--names="}, "--names needs at least one name"},
      {{"--out="}, "--out needs a value (--out=FILE)"},
      {{"--smoke=yes"}, "--smoke takes no value, got 'yes'"},
      {{"positional"}, "unexpected argument 'positional'"},
  };
  for (const auto& [args, message] : cases) EXPECT_EQ(parse(t, args), message) << args[0];
}

TEST(FlagTable, HelpStopsParsing) {
  Options o;
  bool help = false;
  EXPECT_EQ(parse(table(&o), {"--help", "--bogus"}, &help), std::nullopt);
  EXPECT_TRUE(help);
}

}  // namespace
}  // namespace lab
