// /proc/self/status through open/read/close into a stack buffer: no stdio
// (fopen allocates its buffer through malloc, which may be us).
#include "allocator/pal/process_status.h"

#include <fcntl.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstring>

namespace hakmem {
namespace {

// The value of "<key>:   <digits> kB" in `text`, or -1.
int64_t kib_field(const char* text, const char* key) {
  const size_t key_length = strlen(key);
  for (const char* line = text; *line != '\0';) {
    if (strncmp(line, key, key_length) == 0 && line[key_length] == ':') {
      const char* p = line + key_length + 1;
      while (*p == ' ' || *p == '\t') ++p;
      if (*p < '0' || *p > '9') return -1;
      int64_t value = 0;
      for (; *p >= '0' && *p <= '9'; ++p) value = value * 10 + (*p - '0');
      return value;
    }
    const char* next = strchr(line, '\n');
    if (next == nullptr) break;
    line = next + 1;
  }
  return -1;
}

}  // namespace

int64_t peak_rss_kib() {
  const int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return -1;
  // The file is about 1.5 KiB; VmHWM is in its first half.
  char buffer[4096];
  size_t length = 0;
  while (length < sizeof buffer - 1) {
    const ssize_t n = read(fd, buffer + length, sizeof buffer - 1 - length);
    if (n <= 0) break;
    length += static_cast<size_t>(n);
  }
  close(fd);
  buffer[length] = '\0';
  return kib_field(buffer, "VmHWM");
}

int64_t minor_faults() {
  rusage usage{};
  if (getrusage(RUSAGE_SELF, &usage) != 0) return -1;
  return usage.ru_minflt;
}

}  // namespace hakmem
