// The machine and build a results file was measured on.
#pragma once

#include <nlohmann/json.hpp>

namespace lab {

// {cpu_model, cores, kernel, memory_bytes, thp_enabled, thp_defrag}
nlohmann::ordered_json machine_info();

// {compiler, compilation_mode, git_commit, git_dirty}; git facts come from
// the workspace `bazel run` was started in (BUILD_WORKSPACE_DIRECTORY).
nlohmann::ordered_json build_info(const char* compilation_mode);

}  // namespace lab
