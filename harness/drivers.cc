#include "harness/drivers.h"

#include <unistd.h>

#include <algorithm>
#include <deque>
#include <filesystem>
#include <memory>

#include "tools/cpp/runfiles/runfiles.h"

namespace lab {

using bazel::tools::cpp::runfiles::Runfiles;

namespace {
// --library allocators; a deque, so find_allocator's pointers stay valid.
std::deque<AllocatorInfo>& library_allocators() {
  static std::deque<AllocatorInfo> added;
  return added;
}
}  // namespace

const AllocatorInfo* find_allocator(const std::string& name) {
  for (const AllocatorInfo& a : known_allocators())
    if (a.name == name) return &a;
  for (const AllocatorInfo& a : library_allocators())
    if (a.name == name) return &a;
  return nullptr;
}

std::optional<std::string> add_library_allocator(const std::string& name, const std::string& path) {
  const bool plain = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
  if (!plain) return "--library: '" + name + "' is not a plain allocator name (use a-z, 0-9, _ and -)";
  if (find_allocator(name) != nullptr) return "--library: the name '" + name + "' is already an allocator";
  std::error_code ec;
  const std::filesystem::path absolute = std::filesystem::absolute(path, ec);
  if (ec || !std::filesystem::is_regular_file(absolute, ec) || access(absolute.c_str(), R_OK) != 0)
    return "--library=" + name + "=" + path + ": not a readable file";
  AllocatorInfo a;
  a.name = name;
  a.kind = "library";
  a.library = absolute.string();
  library_allocators().push_back(a);
  return std::nullopt;
}

std::string known_allocator_names() {
  std::string names;
  for (const AllocatorInfo& a : known_allocators()) names += (names.empty() ? "" : ", ") + a.name;
  return names;
}

namespace {
std::unique_ptr<Runfiles> g_runfiles;
}  // namespace

bool has_preload_library(const AllocatorInfo& a, std::string* why) {
  if (a.no_library.empty()) return true;
  *why = a.no_library;
  return false;
}

std::optional<std::string> preload_library(const AllocatorInfo& a, std::string* why) {
  if (!has_preload_library(a, why)) return std::nullopt;
  if (!a.library.empty()) return a.library;  // checked by add_library_allocator
  if (a.kind == "system") {
    if (!a.system_library.empty() && access(a.system_library.c_str(), R_OK) != 0) {
      *why = a.system_library + " is not installed (tools/lab setup installs it)";
      return std::nullopt;
    }
    return a.system_library;
  }
  if (g_runfiles == nullptr) {
    *why = "runfiles not initialised (DriverLocator::create first)";
    return std::nullopt;
  }
  const std::string path = g_runfiles->Rlocation("hakmem_lab/variants/libhakmem_" + a.name + ".so");
  if (path.empty() || access(path.c_str(), R_OK) != 0) {
    *why = "variants/libhakmem_" + a.name + ".so not found in the runfiles (is it in this target's data?)";
    return std::nullopt;
  }
  return path;
}

std::optional<DriverLocator> DriverLocator::create(const char* argv0, std::string* error) {
  std::string why;
  g_runfiles.reset(Runfiles::Create(argv0, &why));
  if (g_runfiles == nullptr) {
    *error = "cannot find the drivers (runfiles): " + why + "; run through `bazel run`";
    return std::nullopt;
  }
  return DriverLocator();
}

std::optional<std::string> DriverLocator::path(const std::string& binary, std::string* error) const {
  const std::string path = g_runfiles->Rlocation("hakmem_lab/" + binary);
  if (path.empty() || access(path.c_str(), X_OK) != 0) {
    *error = binary + " not found in the runfiles (is it in this target's data?)";
    return std::nullopt;
  }
  return path;
}

}  // namespace lab
