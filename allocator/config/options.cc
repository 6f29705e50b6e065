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
// Room for "HAKMEM_" + name + '\0' (names are checked against it below).
constexpr size_t kVarSize = 64;

// One row per HAKMEM_OPTIONS entry, in its order. A row carries its enum
// value only so the checks below can prove row i is option i.
struct Row {
  Option option;
  OptionInfo info;
};

// The names of option id's values (HAKMEM_OPTION_VALUE_NAMES), or nullptr.
constexpr const char* value_names_of(Option id) {
#define HAKMEM_OPTION_NAMES_CASE(option, names) \
  if (id == Option::option) return names;
  HAKMEM_OPTION_VALUE_NAMES(HAKMEM_OPTION_NAMES_CASE)
#undef HAKMEM_OPTION_NAMES_CASE
  return nullptr;
}

constexpr Row kOptions[] = {
#define HAKMEM_OPTION_ROW(id, name, default_value, min, max, description) \
  {Option::id, {name, default_value, min, max, description, value_names_of(Option::id)}},
    HAKMEM_OPTIONS(HAKMEM_OPTION_ROW)
#undef HAKMEM_OPTION_ROW
};

// Compile-time checks of the table: a missing or misordered row, or one
// that could not be read (no name, a name too long for its variable, two
// rows with one name, a default outside its range) fails the build here
// instead of misbehaving at run time.
constexpr unsigned kRows = sizeof kOptions / sizeof kOptions[0];

constexpr bool rows_are_in_enum_order() {
  for (unsigned i = 0; i < kRows; ++i)
    if (kOptions[i].option != static_cast<Option>(i)) return false;
  return true;
}

constexpr bool rows_are_well_formed() {
  for (const Row& row : kOptions) {
    const OptionInfo& info = row.info;
    if (info.name == nullptr || info.name[0] == '\0' || info.description == nullptr) return false;
    size_t length = 0;
    while (info.name[length] != '\0') ++length;
    if (sizeof "HAKMEM_" + length > kVarSize) return false;  // env_name() would truncate it
    if (info.min > info.default_value || info.default_value > info.max) return false;
  }
  return true;
}

constexpr bool same_name(const char* a, const char* b) {
  while (*a != '\0' && *a == *b) ++a, ++b;
  return *a == *b;
}

constexpr bool names_are_unique() {
  for (unsigned i = 0; i < kRows; ++i)
    for (unsigned j = i + 1; j < kRows; ++j)
      if (same_name(kOptions[i].info.name, kOptions[j].info.name)) return false;
  return true;
}

static_assert(kRows == kOptionCount, "kOptions needs exactly one row per Option");
static_assert(rows_are_in_enum_order(), "kOptions row i must describe Option i");
static_assert(rows_are_well_formed(),
              "every option needs a name (short enough for HAKMEM_<NAME>), a description "
              "and a default in [min, max]");
static_assert(names_are_unique(), "two options share a name, so they would read one variable");

// Named values: a list names exactly the values min (0) .. max.
constexpr bool value_names_cover_ranges() {
  for (const Row& row : kOptions) {
    if (row.info.value_names == nullptr) continue;
    int64_t names = 1, length = 0;
    for (const char* p = row.info.value_names; *p != '\0'; ++p, ++length) names += *p == '|';
    if (row.info.min != 0 || row.info.max != names - 1) return false;
    if (names > 8 || length >= 64) return false;  // option_value_name's table
  }
  return true;
}
static_assert(value_names_cover_ranges(), "an option's value names must name each value from 0 to its max");

// The value `text` names among "a|b|c", or -1.
int64_t named_value(const char* names, const char* text) {
  int64_t index = 0;
  for (const char* p = names;; ++index) {
    const char* q = text;
    while (*p != '\0' && *p != '|' && *p == *q) ++p, ++q;
    if ((*p == '\0' || *p == '|') && *q == '\0') return index;
    while (*p != '\0' && *p != '|') ++p;
    if (*p == '\0') return -1;
    ++p;
  }
}

enum class Source : uint8_t { kDefault, kEnvironment, kInvalid };

constinit Source g_source[kOptionCount]{};
using options_detail::g_state;
using options_detail::g_value;

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

// Parses every variable. strtoll reports overflow only through errno, so
// errno is cleared per value; callers go through load_keeping_errno().
void load() {
  for (unsigned i = 0; i < kOptionCount; ++i) {
    const OptionInfo& info = kOptions[i].info;
    char var[kVarSize];
    env_name(info.name, var, sizeof var);
    g_value[i] = info.default_value;
    g_source[i] = Source::kDefault;
    const char* text = getenv(var);
    if (text == nullptr) continue;
    char* end = nullptr;
    errno = 0;
    long long parsed = strtoll(text, &end, 10);
    bool ok = errno == 0 && end != text && *end == '\0' && parsed >= info.min && parsed <= info.max;
    if (!ok && info.value_names != nullptr && (parsed = named_value(info.value_names, text)) >= 0) ok = true;
    if (!ok && info.value_names != nullptr) {
      log_message("warning: %s='%s' is none of %s (or 0-%lld); using the default %s", var, text, info.value_names,
                  static_cast<long long>(info.max), option_value_name(static_cast<Option>(i), info.default_value));
      g_source[i] = Source::kInvalid;
      continue;
    }
    if (!ok) {
      log_message("warning: %s='%s' is not an integer in [%lld, %lld]; using the default %lld",
                  var, text, static_cast<long long>(info.min),
                  static_cast<long long>(info.max),
                  static_cast<long long>(info.default_value));
      g_source[i] = Source::kInvalid;
      continue;
    }
    g_value[i] = parsed;
    g_source[i] = Source::kEnvironment;
  }
}

// A load happens inside whatever hakmem call came first (often a malloc a
// program checks errno around), so it must leave errno as it found it:
// strtoll's errno = 0 and a failed write(2) of a warning would leak out.
// The save lives here, on the one-time path, not in option_value().
void load_keeping_errno(bool dump_if_verbose) {
  const int saved_errno = errno;
  load();
  g_state.store(2, std::memory_order_release);
  if (dump_if_verbose && g_value[static_cast<unsigned>(Option::kVerbose)] != 0)
    options_dump();
  errno = saved_errno;
}

[[gnu::cold, gnu::noinline]] void load_first_time() {
  int expected = 0;
  if (g_state.compare_exchange_strong(expected, 1, std::memory_order_acq_rel)) {
    load_keeping_errno(/*dump_if_verbose=*/true);
    return;
  }
  while (g_state.load(std::memory_order_acquire) != 2) {
  }
}

void ensure_loaded() {
  if (g_state.load(std::memory_order_acquire) == 2) [[likely]]
    return;
  load_first_time();
}

}  // namespace

const OptionInfo& option_info(Option option) { return kOptions[static_cast<unsigned>(option)].info; }

const char* option_value_name(Option option, int64_t value) {
  // Each name's text, NUL-terminated, per option with names: filled once
  // from the lists (value_names_of) at compile time.
  static constexpr auto kNames = [] {
    struct Names {
      char text[kOptionCount][64]{};
      unsigned start[kOptionCount][8]{};
      unsigned count[kOptionCount]{};
    } n;
    for (unsigned i = 0; i < kOptionCount; ++i) {
      const char* list = kOptions[i].info.value_names;
      if (list == nullptr) continue;
      unsigned at = 0;
      n.start[i][n.count[i]++] = 0;
      for (const char* p = list; *p != '\0'; ++p) {
        if (*p == '|') {
          n.text[i][at++] = '\0';
          n.start[i][n.count[i]++] = at;
        } else {
          n.text[i][at++] = *p;
        }
      }
    }
    return n;
  }();
  const auto i = static_cast<unsigned>(option);
  if (value < 0 || value >= kNames.count[i]) return nullptr;
  return kNames.text[i] + kNames.start[i][value];
}

namespace options_detail {
constinit std::atomic<int> g_state{0};
constinit int64_t g_value[kOptionCount]{};

int64_t load_then_read(Option option) {
  ensure_loaded();
  return g_value[static_cast<unsigned>(option)];
}
}  // namespace options_detail

void options_reload() { load_keeping_errno(/*dump_if_verbose=*/false); }

void options_dump() {
  ensure_loaded();
  log_message("options (HAKMEM_<NAME>=value):");
  for (unsigned i = 0; i < kOptionCount; ++i) {
    const char* from = g_source[i] == Source::kEnvironment ? "environment"
                       : g_source[i] == Source::kInvalid   ? "default, env value rejected"
                                                                  : "default";
    char var[kVarSize];
    env_name(kOptions[i].info.name, var, sizeof var);
    const char* name = option_value_name(static_cast<Option>(i), g_value[i]);
    if (name != nullptr) {
      log_message("  %-24s = %-8s (%s) %s", var, name, from, kOptions[i].info.description);
      continue;
    }
    log_message("  %-24s = %-8lld (%s) %s", var, static_cast<long long>(g_value[i]),
                from, kOptions[i].info.description);
  }
}

}  // namespace hakmem
