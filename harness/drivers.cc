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
// --library and setting allocators; a deque, so find_allocator's pointers
// stay valid.
std::deque<AllocatorInfo>& library_allocators() {
  static std::deque<AllocatorInfo> added;
  return added;
}

bool plain_name(const std::string& name) {
  return !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
  });
}
}  // namespace

std::vector<std::string> AllocatorInfo::env() const {
  std::vector<std::string> vars;
  for (const auto& [var, value] : settings) vars.push_back(var + "=" + value);
  return vars;
}

std::optional<std::string> add_setting_allocator(const std::string& name) {
  const auto open = name.find('[');
  if (open == std::string::npos || find_allocator(name) != nullptr) return std::nullopt;
  const std::string where = "allocator '" + name + "': ";
  if (name.back() != ']' || open == 0) return where + "settings are written BASE[key=value,...]";
  const AllocatorInfo* base = find_allocator(name.substr(0, open));
  if (base == nullptr || !base->base.empty())
    return where + "'" + name.substr(0, open) + "' is not an allocator (known: " + known_allocator_names() + ")";
  if (base->kind != "hakmem" && base->kind != "library")
    return where + "settings are hakmem options (HAKMEM_<KEY>), and " + base->name + " is not hakmem";
  if (!base->no_library.empty()) return where + base->name + " has no library to preload: " + base->no_library;
  AllocatorInfo a = *base;
  a.name = name;
  a.base = base->name;
  const std::string inside = name.substr(open + 1, name.size() - open - 2);
  size_t at = 0;
  while (at <= inside.size()) {
    const size_t comma = std::min(inside.find(',', at), inside.size());
    const std::string item = inside.substr(at, comma - at);
    const auto eq = item.find('=');
    const std::string key = item.substr(0, eq), value = eq == std::string::npos ? "" : item.substr(eq + 1);
    const bool key_ok = eq != std::string::npos && !key.empty() && std::all_of(key.begin(), key.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_';
    });
    if (!key_ok || value.empty() || value.find_first_of("=[]") != std::string::npos)
      return where + "'" + item + "' is not key=value (key: a-z, 0-9 and _)";
    std::string var = "HAKMEM_";
    for (char c : key) var += static_cast<char>(c >= 'a' && c <= 'z' ? c - 'a' + 'A' : c);
    if (!a.settings.emplace(var, value).second) return where + "'" + key + "' is given twice";
    at = comma + 1;
  }
  library_allocators().push_back(a);
  return std::nullopt;
}

std::vector<std::string> expand_setting(const std::vector<std::string>& names, const std::string& key,
                                        const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const std::string& name : names) {
    const std::string base = name.substr(0, name.find('['));
    const AllocatorInfo* a = find_allocator(base);
    if (a == nullptr || a->kind != "hakmem" || !a->no_library.empty()) {
      out.push_back(name);
      continue;
    }
    for (const std::string& v : values)
      out.push_back(name.back() == ']' ? name.substr(0, name.size() - 1) + "," + key + "=" + v + "]"
                                       : name + "[" + key + "=" + v + "]");
  }
  return out;
}

const AllocatorInfo* find_allocator(const std::string& name) {
  for (const AllocatorInfo& a : known_allocators())
    if (a.name == name) return &a;
  for (const AllocatorInfo& a : library_allocators())
    if (a.name == name) return &a;
  return nullptr;
}

std::optional<std::string> add_library_allocator(const std::string& name, const std::string& path) {
  if (!plain_name(name)) return "--library: '" + name + "' is not a plain allocator name (use a-z, 0-9, _ and -)";
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
  const std::string variant = a.base.empty() ? a.name : a.base;
  const std::string path = g_runfiles->Rlocation("hakmem_lab/variants/libhakmem_" + variant + ".so");
  if (path.empty() || access(path.c_str(), R_OK) != 0) {
    *why = "variants/libhakmem_" + variant + ".so not found in the runfiles (is it in this target's data?)";
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
