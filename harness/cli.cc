#include "harness/cli.h"

#include <signal.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include <fmt/format.h>

#include "harness/results.h"

namespace lab {
namespace {

volatile int g_stop = 0;

void on_signal(int) { g_stop = 1; }

}  // namespace

int usage_error(const std::string& message) {
  fmt::print(stderr, "error: {}\n", message);
  return kExitUsage;
}

std::vector<std::string> split_list(const std::string& text) {
  std::vector<std::string> items;
  std::string item;
  int depth = 0;  // inside a setting allocator's [...], a comma separates settings
  for (char c : text) {
    if (c == ',' && depth == 0) {
      if (!item.empty()) items.push_back(item);
      item.clear();
      continue;
    }
    depth += c == '[' ? 1 : c == ']' && depth > 0 ? -1 : 0;
    item += c;
  }
  if (!item.empty()) items.push_back(item);
  return items;
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

void add_hakmem_env_flag(FlagTable* table, HakmemEnv* env) {
  table->custom(
      "hakmem-env", "KEY=V1|V2|...",
      "run every hakmem variant in --allocators once per value of option HAKMEM_<KEY>, as separate rows of this "
      "interleaved run, named VARIANT[key=value] (e.g. --hakmem-env=learn=off|rules|on gives hot_mag[learn=off], "
      "...); repeated, the settings combine. Such rows, like names written VARIANT[key=value,...] in --allocators, "
      "run in preload mode only, and each cell records its settings",
      "", [env](const std::string& value) -> std::optional<std::string> {
        const auto eq = value.find('=');
        if (eq == std::string::npos || eq == 0 || eq + 1 == value.size())
          return "--hakmem-env takes KEY=V1|V2|..., got '" + value + "'";
        std::string key = value.substr(0, eq);
        std::transform(key.begin(), key.end(), key.begin(), [](unsigned char c) { return std::tolower(c); });
        std::vector<std::string> values;
        std::stringstream in(value.substr(eq + 1));
        for (std::string v; std::getline(in, v, '|');) {
          if (v.empty()) return "--hakmem-env=" + value + ": an empty value";
          values.push_back(v);
        }
        env->keys.push_back({key, values});
        return std::nullopt;
      }, /*repeatable=*/true);
}

std::optional<std::string> apply_hakmem_env(const HakmemEnv& env, const std::string& baseline,
                                            std::vector<std::string>* allocators, bool* any_settings) {
  for (const auto& [key, values] : env.keys) *allocators = expand_setting(*allocators, key, values);
  *any_settings = false;
  for (const std::string& name : *allocators) {
    if (auto e = add_setting_allocator(name)) return e;
    *any_settings |= name.find('[') != std::string::npos;
  }
  return add_setting_allocator(baseline);
}

std::string resolve_path(const std::string& path) {
  if (path.empty() || path[0] == '/') return path;
  if (const char* wd = getenv("BUILD_WORKING_DIRECTORY")) return std::string(wd) + "/" + path;
  return path;
}

std::string default_out_path(const std::string& stem) {
  std::string stamp = utc_now();
  for (char& c : stamp)
    if (c == ':') c = '-';
  const char* workspace = getenv("BUILD_WORKSPACE_DIRECTORY");
  const std::string base =
      std::string(workspace != nullptr ? workspace : ".") + "/results/runs/" + stem + "-" + stamp;
  std::string path = base + ".json";
  for (int n = 2; std::filesystem::exists(path); ++n) path = base + "-" + std::to_string(n) + ".json";
  return path;
}

std::optional<std::vector<const AllocatorInfo*>> resolve_allocators(const std::vector<std::string>& names,
                                                                     std::string* error) {
  std::vector<const AllocatorInfo*> out;
  for (const std::string& name : names) {
    const AllocatorInfo* a = find_allocator(name);
    if (a == nullptr) {
      *error = "unknown allocator '" + name + "' (known: " + known_allocator_names() + ")";
      return std::nullopt;
    }
    out.push_back(a);
  }
  return out;
}

void install_stop_handlers() {
  signal(SIGINT, on_signal);
  signal(SIGTERM, on_signal);
}

bool stop_requested() { return g_stop != 0; }

const volatile int* stop_flag() { return &g_stop; }

}  // namespace lab
