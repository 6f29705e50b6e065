// Helpers for tests that run the real binaries (compare, gate, microbench,
// drivers) from the test's runfiles.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "harness/results.h"
#include "harness/subprocess.h"
#include "tools/cpp/runfiles/runfiles.h"

namespace lab::testing_support {

inline std::string runfile(const std::string& path) {
  static std::unique_ptr<bazel::tools::cpp::runfiles::Runfiles> runfiles(
      bazel::tools::cpp::runfiles::Runfiles::CreateForTest());
  return runfiles->Rlocation("hakmem_lab/" + path);
}

// Runs the binary at runfile path `binary` with `args`.
inline ProcessResult run_runfile(const std::string& binary, std::vector<std::string> args, double timeout_seconds,
                                 const std::vector<std::string>& extra_env = {}) {
  args.insert(args.begin(), runfile(binary));
  return run_process(args, timeout_seconds, extra_env);
}

inline Json parse_json(const std::string& text) { return Json::parse(text); }

}  // namespace lab::testing_support
