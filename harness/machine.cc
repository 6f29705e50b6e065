#include "harness/machine.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cstdlib>
#include <sstream>

#include "common/process.h"
#include "harness/subprocess.h"

namespace lab {
namespace {

std::string cpuinfo_field(const std::string& key) {
  const auto text = read_file("/proc/cpuinfo");
  if (!text) return "unknown";
  std::istringstream in(*text);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(key, 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return line.substr(line.find_first_not_of(" \t", colon + 1));
    }
  }
  return "unknown";
}

std::optional<std::string> git(const std::vector<std::string>& args) {
  const char* workspace = getenv("BUILD_WORKSPACE_DIRECTORY");
  if (workspace == nullptr) return std::nullopt;
  std::vector<std::string> argv = {"/usr/bin/git", "-C", workspace};
  argv.insert(argv.end(), args.begin(), args.end());
  const ProcessResult r = run_process(argv, 30);
  if (!r.ok()) return std::nullopt;
  std::string out = r.stdout_text;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

std::string cpu_governor() {
  const auto text = read_file("/sys/devices/system/cpu/cpu0/cpufreq/scaling_governor");
  if (!text) return "none";
  return text->substr(0, text->find('\n'));
}

}  // namespace

nlohmann::ordered_json machine_info() {
  utsname u{};
  uname(&u);
  const long pages = sysconf(_SC_PHYS_PAGES);
  // A VM's model name can be as vague as "AMD EPYC" for several
  // generations; family, model and stepping tell them apart.
  return {{"cpu_model", cpuinfo_field("model name")},
          {"cpu_family", cpuinfo_field("cpu family")},
          {"cpu_model_number", cpuinfo_field("model\t")},
          {"cpu_stepping", cpuinfo_field("stepping")},
          {"cores", sysconf(_SC_NPROCESSORS_ONLN)},
          {"kernel", std::string(u.sysname) + " " + u.release + " " + u.version},
          {"memory_bytes", static_cast<int64_t>(pages) * sysconf(_SC_PAGESIZE)},
          {"thp_enabled", thp_setting("enabled")},
          {"thp_defrag", thp_setting("defrag")},
          // Shards run on several nodes: which node, and whether its clock
          // was pinned ("none": no cpufreq, as in a VM whose host sets it).
          {"host", std::string(u.nodename)},
          {"cpu_governor", cpu_governor()}};
}

nlohmann::ordered_json build_info(const char* compilation_mode) {
  const auto commit = git({"rev-parse", "HEAD"});
  // Dirty means the sources differ from the commit; results/ is output, not source.
  const auto dirty = git({"status", "--porcelain", "--untracked-files=no", "--", ".", ":!results"});
  return {{"compiler", std::string("gcc ") + __VERSION__},
          {"compilation_mode", compilation_mode},
          {"git_commit", commit ? nlohmann::ordered_json(*commit) : nlohmann::ordered_json(nullptr)},
          {"git_dirty", dirty ? nlohmann::ordered_json(!dirty->empty()) : nlohmann::ordered_json(nullptr)}};
}

std::optional<nlohmann::ordered_json> pinned_build_info(std::string* error) {
  error->clear();
  const char* path = getenv("LAB_BUILD_INFO");
  if (path == nullptr) return std::nullopt;
  const auto text = read_file(path);
  if (!text) {
    *error = std::string("LAB_BUILD_INFO=") + path + ": cannot read the file";
    return std::nullopt;
  }
  auto j = nlohmann::ordered_json::parse(*text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) {
    *error = std::string("LAB_BUILD_INFO=") + path + ": not a JSON object (write it with compare --build-info)";
    return std::nullopt;
  }
  return j;
}

}  // namespace lab
