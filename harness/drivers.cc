#include "harness/drivers.h"

#include <unistd.h>

#include <memory>

#include "tools/cpp/runfiles/runfiles.h"

namespace lab {

using bazel::tools::cpp::runfiles::Runfiles;

const AllocatorInfo* find_allocator(const std::string& name) {
  for (const AllocatorInfo& a : known_allocators())
    if (a.name == name) return &a;
  return nullptr;
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
