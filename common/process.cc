#include "common/process.h"

#include <sched.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

namespace lab {
namespace {

// Value in kB of the first line starting with `key` in `path`, in bytes.
std::optional<int64_t> kb_field(const char* path, const char* key) {
  FILE* f = fopen(path, "re");
  if (f == nullptr) return std::nullopt;
  char line[256];
  const size_t key_len = strlen(key);
  std::optional<int64_t> result;
  while (fgets(line, sizeof line, f) != nullptr) {
    if (strncmp(line, key, key_len) == 0) {
      result = strtoll(line + key_len, nullptr, 10) * 1024;
      break;
    }
  }
  fclose(f);
  return result;
}

}  // namespace

std::optional<int64_t> current_rss_bytes() {
  if (auto rss = kb_field("/proc/self/smaps_rollup", "Rss:")) return rss;
  FILE* f = fopen("/proc/self/statm", "re");
  if (f == nullptr) return std::nullopt;
  long long size = 0, resident = 0;
  const int n = fscanf(f, "%lld %lld", &size, &resident);
  fclose(f);
  if (n != 2) return std::nullopt;
  return resident * sysconf(_SC_PAGESIZE);
}

std::optional<int64_t> peak_rss_bytes() { return kb_field("/proc/self/status", "VmHWM:"); }

bool reset_peak_rss() {
  FILE* f = fopen("/proc/self/clear_refs", "we");
  if (f == nullptr) return false;
  const bool ok = fputs("5", f) >= 0;
  return fclose(f) == 0 && ok;
}

std::string thp_setting(const char* file) {
  const auto text = read_file(std::string("/sys/kernel/mm/transparent_hugepage/") + file);
  if (!text) return "unknown";
  const auto open = text->find('[');
  const auto close = text->find(']', open);
  if (open == std::string::npos || close == std::string::npos) return "unknown";
  return text->substr(open + 1, close - open - 1);
}

std::optional<int> overcommit_mode() {
  FILE* f = fopen("/proc/sys/vm/overcommit_memory", "re");
  if (f == nullptr) return std::nullopt;
  int mode = -1;
  const int n = fscanf(f, "%d", &mode);
  fclose(f);
  if (n != 1) return std::nullopt;
  return mode;
}

std::optional<int64_t> memory_and_swap_bytes() {
  const auto memory = kb_field("/proc/meminfo", "MemTotal:");
  const auto swap = kb_field("/proc/meminfo", "SwapTotal:");
  if (!memory || !swap) return std::nullopt;
  return *memory + *swap;
}

std::optional<Mappings> current_mappings() {
  FILE* f = fopen("/proc/self/maps", "re");
  if (f == nullptr) return std::nullopt;
  Mappings m;
  char line[4096];
  while (fgets(line, sizeof line, f) != nullptr) {
    unsigned long long start = 0, end = 0;
    if (sscanf(line, "%llx-%llx", &start, &end) != 2) continue;
    ++m.count;
    m.bytes += static_cast<int64_t>(end - start);
    // A line longer than the buffer (a long path) continues: skip the rest.
    while (strchr(line, '\n') == nullptr && fgets(line, sizeof line, f) != nullptr) {
    }
  }
  fclose(f);
  return m;
}

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::vector<int> allowed_cpus() {
  cpu_set_t set;
  CPU_ZERO(&set);
  std::vector<int> cpus;
  if (sched_getaffinity(0, sizeof set, &set) != 0) return cpus;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu)
    if (CPU_ISSET(cpu, &set)) cpus.push_back(cpu);
  return cpus;
}

std::optional<std::vector<int>> restrict_to_first_cpus(unsigned count, std::string* error) {
  std::vector<int> cpus = allowed_cpus();
  if (count == 0 || count > cpus.size()) {
    *error = "cannot run on " + std::to_string(count) + " CPUs: this process may use " +
             std::to_string(cpus.size());
    return std::nullopt;
  }
  cpus.resize(count);
  cpu_set_t set;
  CPU_ZERO(&set);
  for (int cpu : cpus) CPU_SET(cpu, &set);
  if (sched_setaffinity(0, sizeof set, &set) != 0) {
    *error = std::string("sched_setaffinity: ") + strerror(errno);
    return std::nullopt;
  }
  return cpus;
}

}  // namespace lab
