// Options: parsed from HAKMEM_* variables once, lazily, without allocating
// (getenv and strtoll only), so it works before main and under LD_PRELOAD.
#include "allocator/config/options.h"

#include <atomic>
#include <cerrno>
#include <cstdlib>

#include "allocator/pal/log.h"

namespace hakmem {
namespace {

constexpr unsigned kOptionCount = static_cast<unsigned>(Option::kCount);

constexpr OptionInfo kOptions[kOptionCount] = {
    {"verbose", 0, 0, 1, "1: dump this table to stderr at start-up"},
    {"debug", 0, 0, 2,
     "invariant checks: 1 = cheap checks on slow paths (bad frees), "
     "2 = also verify every touched slab and SuperSlab (slow)"},
    {"purge_slabs", 32, 0, 1 << 20,
     "free slabs whose pages stay resident before all are purged "
     "(madvise DONTNEED); 32 slabs = 2 MiB"},
    {"superslab_cache", 1, 0, 1024,
     "empty 2 MiB SuperSlabs kept mapped for reuse; more are unmapped"},
};

enum class Source : uint8_t { kDefault, kEnvironment, kInvalid };

struct Values {
  int64_t value[kOptionCount];
  Source source[kOptionCount];
};

constinit Values g_values{};
// 0 = not loaded, 1 = loading, 2 = loaded.
constinit std::atomic<int> g_state{0};

void env_name(const char* name, char* out, size_t out_size) {
  const char prefix[] = "HAKMEM_";
  size_t n = 0;
  for (const char* p = prefix; *p != '\0' && n + 1 < out_size; ++p) out[n++] = *p;
  for (const char* p = name; *p != '\0' && n + 1 < out_size; ++p) {
    const char c = *p;
    out[n++] = (c >= 'a' && c <= 'z') ? static_cast<char>(c - 'a' + 'A') : c;
  }
  out[n] = '\0';
}

void load() {
  for (unsigned i = 0; i < kOptionCount; ++i) {
    const OptionInfo& info = kOptions[i];
    char var[64];
    env_name(info.name, var, sizeof var);
    g_values.value[i] = info.default_value;
    g_values.source[i] = Source::kDefault;
    const char* text = getenv(var);
    if (text == nullptr) continue;
    char* end = nullptr;
    errno = 0;
    const long long parsed = strtoll(text, &end, 10);
    const bool ok = errno == 0 && end != text && *end == '\0' && parsed >= info.min &&
                    parsed <= info.max;
    if (!ok) {
      log_message("warning: %s='%s' is not an integer in [%lld, %lld]; using the default %lld",
                  var, text, static_cast<long long>(info.min),
                  static_cast<long long>(info.max),
                  static_cast<long long>(info.default_value));
      g_values.source[i] = Source::kInvalid;
      continue;
    }
    g_values.value[i] = parsed;
    g_values.source[i] = Source::kEnvironment;
  }
}

void ensure_loaded() {
  if (g_state.load(std::memory_order_acquire) == 2) [[likely]]
    return;
  int expected = 0;
  if (g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    load();
    g_state.store(2, std::memory_order_release);
    if (g_values.value[static_cast<unsigned>(Option::kVerbose)] != 0) options_dump();
    return;
  }
  while (g_state.load(std::memory_order_acquire) != 2) {
  }
}

}  // namespace

const OptionInfo& option_info(Option option) { return kOptions[static_cast<unsigned>(option)]; }

int64_t option_value(Option option) {
  ensure_loaded();
  return g_values.value[static_cast<unsigned>(option)];
}

void options_reload() {
  load();
  g_state.store(2, std::memory_order_release);
}

void options_dump() {
  ensure_loaded();
  log_message("options (HAKMEM_<NAME>=value):");
  for (unsigned i = 0; i < kOptionCount; ++i) {
    const char* from = g_values.source[i] == Source::kEnvironment ? "environment"
                       : g_values.source[i] == Source::kInvalid   ? "default, env value rejected"
                                                                  : "default";
    char var[64];
    env_name(kOptions[i].name, var, sizeof var);
    log_message("  %-24s = %-8lld (%s) %s", var, static_cast<long long>(g_values.value[i]),
                from, kOptions[i].description);
  }
}

}  // namespace hakmem
