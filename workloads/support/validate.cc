#include "workloads/support/validate.h"

#include <unistd.h>

#include <cstdarg>
#include <cstdio>

#include "workloads/support/protocol.h"

namespace lab {
namespace {

char g_context[256] = "workload";

}  // namespace

void set_failure_context(const std::string& context) {
  snprintf(g_context, sizeof g_context, "%s", context.c_str());
}

void fail_run(const char* format, ...) {
  char message[768];
  va_list args;
  va_start(args, format);
  vsnprintf(message, sizeof message, format, args);
  va_end(args);
  fprintf(stderr, "error: %s: %s\n", g_context, message);
  fflush(stderr);
  char reason[sizeof g_context + sizeof message + 2];  // "<context>: <message>" always fits
  snprintf(reason, sizeof reason, "%s: %s", g_context, message);
  write_status_line(DriverStatus::kValidationFailed, reason);
  _exit(exit_code_of(DriverStatus::kValidationFailed));
}

}  // namespace lab
