// Pieces every harness command line shares: lists, output paths, allocator
// names, one-line errors, and Ctrl-C that stops between runs.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "harness/drivers.h"
#include "harness/flag_table.h"

namespace lab {

inline constexpr int kExitUsage = 2;
inline constexpr int kExitInterrupted = 130;

// Prints "error: <message>" and returns kExitUsage.
int usage_error(const std::string& message);

// Comma-separated items; a comma inside [...] (hot_mag[learn=on,purge_delay_ms=10]) does not split.
std::vector<std::string> split_list(const std::string& text);
std::string join(const std::vector<std::string>& items);

// A relative path given under `bazel run` is relative to where the user
// typed the command (BUILD_WORKING_DIRECTORY), not to the runfiles.
std::string resolve_path(const std::string& path);

// results/runs/<stem>-<UTC time>[-N].json in the workspace, never an
// existing file.
std::string default_out_path(const std::string& stem);

// The named allocators, or an error naming the unknown one and the known.
std::optional<std::vector<const AllocatorInfo*>> resolve_allocators(const std::vector<std::string>& names,
                                                                     std::string* error);

// --hakmem-env=KEY=V1|V2|..., compare's and programs': every hakmem
// allocator once per value of option HAKMEM_<KEY>, as separate rows of one
// interleaved run named VARIANT[key=value] (repeated, the settings combine).
struct HakmemEnv {
  std::vector<std::pair<std::string, std::vector<std::string>>> keys;  // lower-case key, its values in order
};
void add_hakmem_env_flag(FlagTable* table, HakmemEnv* env);

// Expands *allocators by `env` and registers every name that carries
// settings (VARIANT[key=value,...], add_setting_allocator), `baseline`
// included. A one-line error for a malformed one; *any_settings says
// whether some allocator carries settings (they run preloaded only).
std::optional<std::string> apply_hakmem_env(const HakmemEnv& env, const std::string& baseline,
                                            std::vector<std::string>* allocators, bool* any_settings);

// SIGINT/SIGTERM set a flag instead of killing the harness, so the run in
// flight is stopped and everything measured so far is saved.
void install_stop_handlers();
bool stop_requested();
const volatile int* stop_flag();

}  // namespace lab
