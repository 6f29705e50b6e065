// perf_event_open counters around the timed region of a driver.
//
// Two groups, so one missing PMU cannot take the other down:
//   hardware: instructions (leader), cycles, cache-misses, branch-misses
//   software: page-faults (leader), minor-faults, context-switches, cpu-clock
// Counters are inherited by threads created after open(). Multiplexed values
// are scaled by time_enabled / time_running. A counter this machine cannot
// provide is reported as null with the reason, never as 0.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace lab {

class PerfCounters {
 public:
  PerfCounters() = default;
  PerfCounters(const PerfCounters&) = delete;
  PerfCounters& operator=(const PerfCounters&) = delete;
  ~PerfCounters();

  // Opens both groups, disabled. Call before creating the measured threads.
  void open();
  void enable();
  void disable();
  // {"instructions": {"value": N | null, "reason"?, "scaled", ...}, ...}
  nlohmann::ordered_json to_json() const;

 private:
  struct Counter {
    std::string name;
    uint32_t type = 0;
    uint64_t config = 0;
    int fd = -1;
    std::string error = {};
  };
  struct Group {
    std::vector<Counter> counters;  // counters[0] is the leader
  };
  void open_group(Group& group);
  void read_group(const Group& group, nlohmann::ordered_json& out) const;

  Group hardware_;
  Group software_;
};

}  // namespace lab
