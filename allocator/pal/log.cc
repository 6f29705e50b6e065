// Stack-buffer formatting and one write(2): no heap, no locks, async-signal
// tolerant enough for an allocator's error paths.
#include "allocator/pal/log.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>

namespace hakmem {
namespace {

void vlog(const char* format, va_list args) {
  char buffer[512];
  int n = snprintf(buffer, sizeof buffer, "hakmem: ");
  int m = vsnprintf(buffer + n, sizeof buffer - n - 1, format, args);
  if (m < 0) m = 0;
  size_t len = static_cast<size_t>(n) + static_cast<size_t>(m);
  if (len > sizeof buffer - 2) len = sizeof buffer - 2;
  buffer[len++] = '\n';
  ssize_t ignored = write(STDERR_FILENO, buffer, len);
  (void)ignored;
}

}  // namespace

void log_message(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vlog(format, args);
  va_end(args);
}

void fatal(const char* format, ...) {
  va_list args;
  va_start(args, format);
  vlog(format, args);
  va_end(args);
  abort();
}

}  // namespace hakmem
