// Helpers for tests that run the real binaries (compare, drivers) from the
// test's runfiles.
#pragma once

#include <memory>
#include <string>

#include "harness/results.h"
#include "tools/cpp/runfiles/runfiles.h"

namespace lab::testing_support {

inline std::string runfile(const std::string& path) {
  static std::unique_ptr<bazel::tools::cpp::runfiles::Runfiles> runfiles(
      bazel::tools::cpp::runfiles::Runfiles::CreateForTest());
  return runfiles->Rlocation("hakmem_lab/" + path);
}

inline Json parse_json(const std::string& text) { return Json::parse(text); }

}  // namespace lab::testing_support
