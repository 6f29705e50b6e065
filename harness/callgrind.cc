#include "harness/callgrind.h"

#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>

#include "common/process.h"
#include "harness/subprocess.h"
#include "workloads/support/protocol.h"

namespace lab {

std::optional<uint64_t> callgrind_total_ir(const std::string& text) {
  std::istringstream in(text);
  std::optional<uint64_t> summary;
  for (std::string line; std::getline(in, line);) {
    for (const char* key : {"totals:", "summary:"}) {
      if (line.rfind(key, 0) == 0) {
        const uint64_t value = std::stoull(line.substr(strlen(key)));
        if (std::string(key) == "totals:") return value;
        summary = value;
      }
    }
  }
  return summary;
}

std::optional<CallgrindResult> run_callgrind(const std::vector<std::string>& driver_args,
                                             double timeout_seconds, std::string* error,
                                             const volatile int* stop_requested,
                                             const std::vector<std::string>& extra_env) {
  const auto dir = std::filesystem::temp_directory_path() /
                   ("hakmem-callgrind-" + std::to_string(getpid()) + "-" + std::to_string(rand()));
  std::filesystem::create_directories(dir);
  const std::string out_file = (dir / "callgrind.out").string();
  std::vector<std::string> argv = {"/usr/bin/valgrind", "--tool=callgrind", "--callgrind-out-file=" + out_file};
  argv.insert(argv.end(), driver_args.begin(), driver_args.end());
  const ProcessResult r = run_process(argv, timeout_seconds, extra_env, stop_requested);
  std::optional<CallgrindResult> result;
  if (!r.ok()) {
    *error = "callgrind run " + r.describe_failure();
  } else {
    // Dumps requested by the program are numbered: <file>.1 is "timed_region".
    const auto dump = read_file(out_file + ".1");
    RunRecord record;
    std::string why;
    const auto status = read_status_line(r.stdout_text, &why);
    try {
      if (!status || status->status != DriverStatus::kOk) throw std::runtime_error(status ? status->reason : why);
      record = status->line.get<RunRecord>();
    } catch (const std::exception& e) {
      *error = std::string("callgrind run printed no record: ") + e.what();
    }
    if (!dump) {
      *error = "callgrind wrote no timed_region dump (" + out_file + ".1)";
    } else if (error->empty()) {
      const auto ir = callgrind_total_ir(*dump);
      if (!ir) {
        *error = "no totals line in " + out_file + ".1";
      } else {
        CallgrindResult c;
        c.instructions = *ir;
        c.ops = record.ops;
        c.instructions_per_op = c.ops != 0 ? static_cast<double>(c.instructions) / c.ops : 0;
        c.record = record;
        result = c;
      }
    }
  }
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  return result;
}

}  // namespace lab
