#include "common/process.h"

#include <unistd.h>

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

std::optional<std::string> read_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace lab
