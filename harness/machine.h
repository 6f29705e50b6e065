// The machine and build a results file was measured on.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace lab {

// {cpu_model, cpu_family, cpu_model_number, cpu_stepping, cores, kernel,
// memory_bytes, thp_enabled, thp_defrag, host, cpu_governor}
nlohmann::ordered_json machine_info();

// {compiler, compilation_mode, git_commit, git_dirty}; git facts come from
// the workspace `bazel run` was started in (BUILD_WORKSPACE_DIRECTORY).
nlohmann::ordered_json build_info(const char* compilation_mode);

// The build facts a batch job records instead of build_info()'s: the JSON
// object in the file LAB_BUILD_INFO names, which `compare --build-info`
// wrote when the binaries were copied for the job (tools/lab slurm). A job
// that starts after the workspace was edited then records the build it
// runs, and its shards still merge. nullopt with *error empty when the
// variable is unset; nullopt and a one-line *error when the file cannot be
// read or holds no JSON object.
std::optional<nlohmann::ordered_json> pinned_build_info(std::string* error);

}  // namespace lab
