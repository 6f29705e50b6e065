// The allocators the harness knows and where their drivers are. The list is
// generated from //variants:registry.bzl and //workloads:defs.bzl, so a new
// variant reaches the harness without touching this code.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace lab {

struct AllocatorInfo {
  std::string name;  // "ultra_simple", "glibc", ...
  std::string kind;  // "hakmem" or "system"
  std::string system_library;  // a system allocator's shared library; "" for glibc and hakmem
  std::string no_library;      // why a hakmem variant has no preload library ("" when it has one)
  // Set for an allocator given as compare --library=NAME=PATH: its library
  // (absolute). It has no linked driver and runs in preload mode only; its
  // kind is "library" until a driver that loaded it says which it is.
  std::string library;

  // Workspace-relative paths of the allocator's binaries.
  std::string driver() const { return "workloads/driver_" + name; }
  std::string microbench() const { return "workloads/microbench_" + name; }
};

// Whether `a` can serve a whole program through a library: every system
// allocator and hakmem variant but bound, the speed-of-light reference.
// Otherwise *why says so.
bool has_preload_library(const AllocatorInfo& a, std::string* why);

// How a glibc-linked program runs under `a` (preload mode, the program
// suite): the library to LD_PRELOAD. An absolute path: Debian's for the
// peers, the runfiles' //variants:libhakmem_<v>.so for a hakmem variant;
// "" for glibc itself (nothing to preload). nullopt, with a one-line
// error, when `a` has no library or its file is missing.
std::optional<std::string> preload_library(const AllocatorInfo& a, std::string* why);

// Generated (known_allocators.cc).
const std::vector<AllocatorInfo>& known_allocators();

// Adds an allocator that is only a preload library, from compare's
// --library=NAME=PATH: typically a variant's library built from another
// commit, so two builds run interleaved in one comparison. find_allocator
// finds it afterwards. Returns a one-line error when NAME is taken or not
// a plain name ([a-z0-9_-]), or PATH is not a readable file.
std::optional<std::string> add_library_allocator(const std::string& name, const std::string& path);

const AllocatorInfo* find_allocator(const std::string& name);

// Comma-separated names, for error messages.
std::string known_allocator_names();

class DriverLocator {
 public:
  // Finds the runfiles of the running binary (argv0).
  static std::optional<DriverLocator> create(const char* argv0, std::string* error);
  // Absolute path of a workspace-relative binary (AllocatorInfo::driver()
  // or microbench()); error if it is not there.
  std::optional<std::string> path(const std::string& binary, std::string* error) const;
};

}  // namespace lab
