// The driver's exit protocol: how a driver run tells the harness what
// happened. This header is its one owner; drivers write it and the harness
// reads it, and neither repeats an exit code or scrapes stderr for text.
//
// Every run of a driver with --workload ends, unless it crashes, with one
// JSON object as the last line of stdout carrying "status": the record
// itself on success ("status": "ok"), or {"status": S, "reason": R} for
// every other outcome, where R is the same one-line message a person sees
// on stderr. The exit code says the same as the status (kStatuses below);
// a crash or a kill leaves no status line, and the signal says why.
// --help and --list are not runs: they print text and exit 0.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace lab {

enum class DriverStatus {
  kOk,                // ran; the record is the status line
  kBadFlags,          // nothing ran: the flags or the workload's parameters are wrong
  kValidationFailed,  // a block failed validation: the allocator broke a block
  kRefused,           // the allocator declares it cannot serve this run (bound)
};

struct DriverStatusInfo {
  DriverStatus status;
  const char* name;  // the "status" value on the line
  int exit_code;
};

// One row per status; the order is the enum's (checked below).
inline constexpr DriverStatusInfo kDriverStatuses[] = {
    {DriverStatus::kOk, "ok", 0},
    {DriverStatus::kBadFlags, "bad_flags", 2},
    {DriverStatus::kValidationFailed, "validation_failed", 3},
    {DriverStatus::kRefused, "refused", 4},
};

constexpr bool driver_statuses_in_order() {
  for (size_t i = 0; i < std::size(kDriverStatuses); ++i)
    if (static_cast<size_t>(kDriverStatuses[i].status) != i) return false;
  return true;
}
static_assert(driver_statuses_in_order(), "kDriverStatuses must list every DriverStatus in enum order");

constexpr const DriverStatusInfo& info_of(DriverStatus s) { return kDriverStatuses[static_cast<size_t>(s)]; }
constexpr int exit_code_of(DriverStatus s) { return info_of(s).exit_code; }

std::optional<DriverStatus> driver_status_named(std::string_view name);

// {"status": ..., "reason": ...} as one line of JSON text (no newline).
std::string status_line(DriverStatus status, const std::string& reason);

// Writes the status line and a newline to stdout with write(2), formatting
// into a stack buffer: safe from a worker thread that is about to _exit
// (block validation), where the allocator under test is not to be trusted.
void write_status_line(DriverStatus status, const char* reason);

// What the last line of a driver's stdout says: its status and the whole
// object (the record, for kOk). nullopt when there is no such line (the
// run crashed, or is not speaking this protocol); *error says why.
struct StatusLine {
  DriverStatus status;
  std::string reason;         // "" for kOk
  nlohmann::ordered_json line;
};
std::optional<StatusLine> read_status_line(const std::string& stdout_text, std::string* error);

}  // namespace lab
