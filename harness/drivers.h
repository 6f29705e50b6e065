// The allocators the harness knows and where their drivers are. The list is
// generated from //variants:registry.bzl and //workloads:defs.bzl, so a new
// variant reaches the harness without touching this code.
#pragma once

#include <map>
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
  // Set for a hakmem allocator under option settings, named BASE[key=value,
  // ...] (add_setting_allocator): the variant it runs (`base`), and the
  // settings, as HAKMEM_<KEY> variables in its drivers' environment.
  std::string base;
  std::map<std::string, std::string> settings;  // "HAKMEM_LEARN" -> "on"

  // The environment a run of this allocator adds: "HAKMEM_<KEY>=value".
  std::vector<std::string> env() const;
  // Workspace-relative paths of the allocator's binaries.
  std::string driver() const { return "workloads/driver_" + (base.empty() ? name : base); }
  std::string microbench() const { return "workloads/microbench_" + (base.empty() ? name : base); }
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

// Adds allocator NAME of the form BASE[key=value,...]: hakmem variant BASE
// (or a --library allocator) run with HAKMEM_<KEY>=value for each setting,
// e.g. hot_mag[learn=on], so one interleaved run measures one variant
// under several option settings as separate rows. Runs in preload mode
// only, as a --library allocator does. Nothing for a name without '['.
// A one-line error when BASE is not a hakmem allocator with a library, or a
// key or value is malformed (keys: a-z, 0-9, _; values: no ',', ']' or
// '='), or a key is given twice.
std::optional<std::string> add_setting_allocator(const std::string& name);

// Every name BASE in `names` that is a hakmem allocator, replaced by
// BASE[key=v] for each value v in `values`, in order (a name already
// carrying settings gets key=v added to them): compare's --hakmem-env.
std::vector<std::string> expand_setting(const std::vector<std::string>& names, const std::string& key,
                                        const std::vector<std::string>& values);

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
