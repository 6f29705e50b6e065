// What /proc and /sys say about this process and machine: resident set
// size now and at peak, the transparent huge page setting, and the CPUs the
// process may run on. Read inside the measured process (a parent that execs
// it would see a different one).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace lab {

// Current RSS in bytes (smaps_rollup "Rss:", else statm), or nullopt.
std::optional<int64_t> current_rss_bytes();

// Peak RSS (VmHWM) in bytes since start or since the last reset.
std::optional<int64_t> peak_rss_bytes();

// Resets VmHWM to the current RSS (writes "5" to /proc/self/clear_refs).
// Returns false where the kernel refuses.
bool reset_peak_rss();

// The bracketed choice in /sys/kernel/mm/transparent_hugepage/<file>
// ("enabled" or "defrag"), e.g. "madvise"; "unknown" if unreadable.
std::string thp_setting(const char* file = "enabled");

// The CPUs this process may run on (its affinity mask), in ascending order.
std::vector<int> allowed_cpus();

// Restricts this process to the first `count` CPUs it may run on now;
// threads created afterwards inherit it. Returns the CPUs kept, or nullopt
// with a one-line reason (count exceeds what is allowed, or the kernel
// refused).
std::optional<std::vector<int>> restrict_to_first_cpus(unsigned count, std::string* error);

// /proc/sys/vm/overcommit_memory: 0 heuristic (a single request beyond RAM
// plus swap is refused), 1 always (nothing is refused), 2 strict (commit
// limit); nullopt if unreadable.
std::optional<int> overcommit_mode();

// MemTotal + SwapTotal of /proc/meminfo in bytes, or nullopt: the overcommit
// heuristic refuses one mapping larger than this.
std::optional<int64_t> memory_and_swap_bytes();

// This process's mappings (/proc/self/maps lines) and their total size.
struct Mappings {
  int64_t count = 0;
  int64_t bytes = 0;
};
std::optional<Mappings> current_mappings();

// Whole text of a small file, or nullopt.
std::optional<std::string> read_file(const std::string& path);

}  // namespace lab
