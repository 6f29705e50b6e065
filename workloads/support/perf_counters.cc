#include "workloads/support/perf_counters.h"

#include <linux/perf_event.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

namespace lab {
namespace {

std::string errno_reason(int err) {
  std::string reason = std::string("perf_event_open: ") + strerror(err);
  if (err == ENOENT || err == EOPNOTSUPP || err == ENODEV) {
    reason += " (this machine exposes no such counter; VMs often have no hardware PMU)";
  } else if (err == EACCES || err == EPERM) {
    std::ifstream paranoid("/proc/sys/kernel/perf_event_paranoid");
    std::string level;
    paranoid >> level;
    reason += " (not permitted; kernel.perf_event_paranoid=" + level + ")";
  }
  return reason;
}

int perf_open(uint32_t type, uint64_t config, int group_fd) {
  perf_event_attr attr{};
  attr.size = sizeof attr;
  attr.type = type;
  attr.config = config;
  attr.disabled = group_fd == -1 ? 1 : 0;
  attr.inherit = 1;
  attr.exclude_hv = 1;
  attr.read_format =
      PERF_FORMAT_GROUP | PERF_FORMAT_TOTAL_TIME_ENABLED | PERF_FORMAT_TOTAL_TIME_RUNNING;
  return static_cast<int>(syscall(SYS_perf_event_open, &attr, 0, -1, group_fd, 0));
}

}  // namespace

PerfCounters::~PerfCounters() {
  for (Group* g : {&hardware_, &software_})
    for (Counter& c : g->counters)
      if (c.fd >= 0) close(c.fd);
}

void PerfCounters::open_group(Group& group) {
  Counter& leader = group.counters[0];
  leader.fd = perf_open(leader.type, leader.config, -1);
  if (leader.fd < 0) {
    const std::string reason = errno_reason(errno);
    for (Counter& c : group.counters) c.error = reason + " [group leader " + leader.name + "]";
    leader.error = reason;
    return;
  }
  for (size_t i = 1; i < group.counters.size(); ++i) {
    Counter& c = group.counters[i];
    c.fd = perf_open(c.type, c.config, leader.fd);
    if (c.fd < 0) c.error = errno_reason(errno);
  }
}

void PerfCounters::open() {
  hardware_.counters = {
      {"instructions", PERF_TYPE_HARDWARE, PERF_COUNT_HW_INSTRUCTIONS, -1, {}},
      {"cycles", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CPU_CYCLES, -1, {}},
      {"cache_misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_CACHE_MISSES, -1, {}},
      {"branch_misses", PERF_TYPE_HARDWARE, PERF_COUNT_HW_BRANCH_MISSES, -1, {}},
  };
  software_.counters = {
      {"page_faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS, -1, {}},
      {"minor_faults", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_PAGE_FAULTS_MIN, -1, {}},
      {"context_switches", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CONTEXT_SWITCHES, -1, {}},
      {"cpu_clock_ns", PERF_TYPE_SOFTWARE, PERF_COUNT_SW_CPU_CLOCK, -1, {}},
  };
  open_group(hardware_);
  open_group(software_);
}

void PerfCounters::enable() {
  for (Group* g : {&hardware_, &software_})
    if (g->counters[0].fd >= 0) ioctl(g->counters[0].fd, PERF_EVENT_IOC_ENABLE, PERF_IOC_FLAG_GROUP);
}

void PerfCounters::disable() {
  for (Group* g : {&hardware_, &software_})
    if (g->counters[0].fd >= 0) ioctl(g->counters[0].fd, PERF_EVENT_IOC_DISABLE, PERF_IOC_FLAG_GROUP);
}

void PerfCounters::read_group(const Group& group, nlohmann::ordered_json& out) const {
  const int leader_fd = group.counters[0].fd;
  // Layout of a group read: nr, time_enabled, time_running, value[nr].
  uint64_t buffer[3 + 8] = {};
  ssize_t n = -1;
  std::string read_error;
  if (leader_fd >= 0) {
    n = read(leader_fd, buffer, sizeof buffer);
    if (n < static_cast<ssize_t>(3 * sizeof(uint64_t))) read_error = std::string("read: ") + strerror(errno);
  }
  const uint64_t enabled = buffer[1];
  const uint64_t running = buffer[2];
  // Values arrive in the order the counters were opened, skipping failures.
  size_t index = 0;
  for (const Counter& c : group.counters) {
    nlohmann::ordered_json entry;
    if (c.fd < 0 || !read_error.empty()) {
      entry["value"] = nullptr;
      entry["reason"] = c.fd < 0 ? c.error : read_error;
    } else if (running == 0) {
      ++index;
      entry["value"] = nullptr;
      entry["reason"] = "counter never ran (time_running = 0)";
    } else {
      const uint64_t raw = buffer[3 + index++];
      const bool scaled = running < enabled;
      entry["value"] = scaled ? static_cast<uint64_t>(static_cast<double>(raw) * enabled / running) : raw;
      entry["scaled"] = scaled;
      entry["time_enabled_ns"] = enabled;
      entry["time_running_ns"] = running;
    }
    out[c.name] = entry;
  }
}

nlohmann::ordered_json PerfCounters::to_json() const {
  nlohmann::ordered_json out = nlohmann::ordered_json::object();
  read_group(hardware_, out);
  read_group(software_, out);
  return out;
}

}  // namespace lab
