#include "harness/programs_suite.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>

#include "harness/cli.h"
#include "harness/programs_inputs.h"
#include "harness/subprocess.h"

namespace lab {
namespace {

// A size's amount of work for one program.
struct Scale {
  int smoke, small, full;
  int at(SuiteSize size) const { return size == SuiteSize::kSmoke ? smoke : size == SuiteSize::kSmall ? small : full; }
};

bool write_text(const std::string& path, const std::string& text, std::string* error) {
  std::ofstream out(path, std::ios::binary);
  out << text;
  out.close();
  if (!out) *error = "cannot write the input " + path;
  return static_cast<bool>(out);
}

std::string script(const InputPlace& place, const char* name) { return place.scripts_dir + "/" + name; }

// Deterministic output needs a fixed locale everywhere; g++ puts its
// temporary files in the run's directory, not the machine's /tmp.
std::vector<std::string> common_env(const InputPlace& place) {
  return {"LC_ALL=C", "TMPDIR=" + place.dir};
}

std::optional<ProgramCommand> prepare_python(const InputPlace& place, std::string*) {
  constexpr Scale kRecords{4'000, 60'000, 400'000};
  ProgramCommand c;
  c.input = script(place, "churn.py");
  // -S: no site packages; -s: no user site; -B: no bytecode files.
  c.argv = {"/usr/bin/python3", "-S", "-s", "-B", c.input, std::to_string(place.seed),
            std::to_string(kRecords.at(place.size))};
  c.env = common_env(place);
  // Every object from malloc: CPython's own small-object arenas would
  // otherwise serve most of them and hide the allocator under test.
  c.env.push_back("PYTHONMALLOC=malloc");
  c.env.push_back("PYTHONHASHSEED=0");
  return c;
}

std::optional<ProgramCommand> prepare_perl(const InputPlace& place, std::string*) {
  constexpr Scale kRecords{2'000, 25'000, 150'000};  // per thread
  ProgramCommand c;
  c.input = script(place, "churn.pl");
  c.argv = {"/usr/bin/perl", c.input, std::to_string(place.seed), std::to_string(kRecords.at(place.size)), "2"};
  c.env = common_env(place);
  c.env.push_back("PERL_HASH_SEED=0");
  c.env.push_back("PERL_PERTURB_KEYS=0");
  return c;
}

std::optional<ProgramCommand> prepare_lua(const InputPlace& place, std::string*) {
  constexpr Scale kRecords{5'000, 80'000, 500'000};
  ProgramCommand c;
  c.input = script(place, "churn.lua");
  c.argv = {"/usr/bin/lua5.4", c.input, std::to_string(place.seed), std::to_string(kRecords.at(place.size))};
  c.env = common_env(place);
  return c;
}

std::optional<ProgramCommand> prepare_sqlite(const InputPlace& place, std::string* error) {
  constexpr Scale kRows{2'000, 80'000, 200'000};
  ProgramCommand c;
  c.input = place.dir + "/orders.sql";
  if (!write_text(c.input, sql_script(place.seed, kRows.at(place.size)), error)) return std::nullopt;
  // An in-memory database: page cache and parser memory from malloc, no
  // file system in the measurement.
  c.argv = {"/usr/bin/sqlite3", "-batch", ":memory:", ".read " + c.input};
  c.env = common_env(place);
  return c;
}

std::optional<ProgramCommand> prepare_gxx(const InputPlace& place, std::string* error) {
  constexpr Scale kFunctions{2, 5, 40};
  ProgramCommand c;
  c.input = place.dir + "/generated.cc";
  if (!write_text(c.input, cpp_source(place.seed, kFunctions.at(place.size)), error)) return std::nullopt;
  c.outputs = {place.dir + "/generated.o"};
  c.argv = {"/usr/bin/g++", "-std=c++17", "-O1", "-c", c.input, "-o", c.outputs[0]};
  c.env = common_env(place);
  return c;
}

std::optional<ProgramCommand> prepare_gold(const InputPlace& place, std::string* error) {
  constexpr Scale kModules{4, 24, 48};
  constexpr Scale kFunctions{150, 2'500, 8'000};  // per module
  const std::string as = "/usr/bin/as";
  std::vector<std::string> objects;
  for (int m = -1; m < kModules.at(place.size); ++m) {
    if (stop_requested()) {
      *error = "interrupted";
      return std::nullopt;
    }
    const std::string stem = place.dir + (m < 0 ? std::string("/entry") : "/m" + std::to_string(m));
    const std::string text =
        m < 0 ? assembly_entry(place.seed) : assembly_module(place.seed, m, kFunctions.at(place.size));
    if (!write_text(stem + ".s", text, error)) return std::nullopt;
    const ProcessResult r = run_process({as, "-o", stem + ".o", stem + ".s"}, 600);
    if (!r.ok()) {
      *error = "assembling its input: " + as + " " + r.describe_failure() + " (Debian package binutils)";
      return std::nullopt;
    }
    std::filesystem::remove(stem + ".s");
    objects.push_back(stem + ".o");
  }
  ProgramCommand c;
  c.input = objects.front();
  c.outputs = {place.dir + "/linked"};
  c.argv = {"/usr/bin/ld.gold", "--threads", "--thread-count=2", "-o", c.outputs[0]};
  c.argv.insert(c.argv.end(), objects.begin(), objects.end());
  c.env = common_env(place);
  return c;
}

}  // namespace

std::optional<SuiteSize> parse_suite_size(const std::string& text) {
  for (SuiteSize s : {SuiteSize::kSmoke, SuiteSize::kSmall, SuiteSize::kFull})
    if (text == suite_size_name(s)) return s;
  return std::nullopt;
}

const char* suite_size_name(SuiteSize size) {
  switch (size) {
    case SuiteSize::kSmoke: return "smoke";
    case SuiteSize::kSmall: return "small";
    case SuiteSize::kFull: return "full";
  }
  return "?";
}

const std::vector<Program>& program_suite() {
  static const std::vector<Program> kSuite = {
      {"python3", "/usr/bin/python3", "python3", 1,
       "dict, list and string churn (harness/program_scripts/churn.py), every object from malloc", prepare_python},
      {"perl", "/usr/bin/perl", "perl", 2,
       "hash, array and string churn in 2 interpreter threads at once (harness/program_scripts/churn.pl)", prepare_perl},
      {"lua", "/usr/bin/lua5.4", "lua5.4", 1, "table and string churn (harness/program_scripts/churn.lua)", prepare_lua},
      {"sqlite3", "/usr/bin/sqlite3", "sqlite3", 1,
       "in-memory database: one INSERT per row, two indexes, joins and grouped queries", prepare_sqlite},
      {"g++", "/usr/bin/g++", "g++", 1, "g++ -O1 -c of a generated C++ file of STL-heavy templates", prepare_gxx},
      {"ld.gold", "/usr/bin/ld.gold", "binutils", 2,
       "links generated objects (one section per function, mergeable strings) with --threads --thread-count=2",
       prepare_gold},
  };
  return kSuite;
}

const Program* find_program(const std::string& name) {
  for (const Program& p : program_suite())
    if (name == p.name) return &p;
  return nullptr;
}

std::string installed_package(const Program& program) {
  std::error_code ec;
  const std::string real = std::filesystem::canonical(program.executable, ec).string();
  if (ec) return "unknown (" + ec.message() + ")";
  // "package:arch: /path", or several packages for a diverted file.
  const ProcessResult owner = run_process({"/usr/bin/dpkg-query", "-S", real}, 60);
  if (!owner.ok()) return "unknown (" + owner.describe_failure() + ")";
  std::string package = owner.stdout_text.substr(0, owner.stdout_text.find(": "));
  package = package.substr(0, package.find(','));
  const ProcessResult version = run_process({"/usr/bin/dpkg-query", "-W", "-f=${Version}", package}, 60);
  if (!version.ok()) return package + " (version unknown: " + version.describe_failure() + ")";
  return package + " " + version.stdout_text;
}

std::string program_names() {
  std::string names;
  for (const Program& p : program_suite()) names += (names.empty() ? "" : ", ") + std::string(p.name);
  return names;
}

}  // namespace lab
