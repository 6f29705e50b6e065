// The knob file's writer and reader (see knob_file.h).
#include "allocator/learn/knob_file.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>

namespace hakmem::learn {
namespace {

// Every line of the file: its name, where its values live, how many.
struct Row {
  Knob knob;
  uint32_t* values;
  unsigned count;
};

template <class K>
auto rows_of(K& k) {
  return std::array<Row, 7>{{
      {Knob::kTinyCache, k.tiny_cache.data(), kTinyClasses},
      {Knob::kTinyRefill, k.tiny_refill.data(), kTinyClasses},
      {Knob::kMidCacheKib, &k.mid_cache_kib, 1},
      {Knob::kL25CacheKib, &k.l25_cache_kib, 1},
      {Knob::kLargeCacheMib, &k.large_cache_mib, 1},
      {Knob::kPurgeDelayMs, &k.purge_delay_ms, 1},
      {Knob::kSuperSlabKib, k.superslab_kib.data(), kSuperSlabGroups},
  }};
}

}  // namespace

size_t format_knobs(const Knobs& k, char* out, size_t cap) {
  Knobs copy = k;
  size_t n = 0;
  const auto put = [&](const char* format, auto... args) {
    if (n >= cap) return;
    const int wrote = snprintf(out + n, cap - n, format, args...);
    n = wrote < 0 ? cap : n + static_cast<size_t>(wrote);
  };
  put("# hakmem knobs (HAKMEM_LEARN=frozen)\n");
  for (const Row& row : rows_of(copy)) {
    put("%s", knob_name(row.knob));
    for (unsigned i = 0; i < row.count; ++i) put(" %u", row.values[i]);
    put("\n");
  }
  if (n >= cap) {
    if (cap != 0) out[0] = '\0';
    return 0;
  }
  return n;
}

bool parse_knobs(const char* text, const KnobBounds& b, Knobs* out, char* why, size_t why_cap) {
  Knobs k;
  auto rows = rows_of(k);
  std::array<bool, 7> seen{};
  unsigned line_no = 0;
  const char* p = text;
  while (*p != '\0') {
    ++line_no;
    const char* end = strchr(p, '\n');
    if (end == nullptr) end = p + strlen(p);
    const char* q = p;
    while (q < end && (*q == ' ' || *q == '\t')) ++q;
    if (q < end && *q != '#') {
      const char* name_end = q;
      while (name_end < end && *name_end != ' ' && *name_end != '\t') ++name_end;
      Row* row = nullptr;
      unsigned r = 0;
      for (; r < rows.size(); ++r) {
        const char* name = knob_name(rows[r].knob);
        if (strlen(name) == static_cast<size_t>(name_end - q) && strncmp(name, q, name_end - q) == 0) {
          row = &rows[r];
          break;
        }
      }
      if (row == nullptr) {
        snprintf(why, why_cap, "line %u: unknown knob '%.*s'", line_no, static_cast<int>(name_end - q), q);
        return false;
      }
      if (seen[r]) {
        snprintf(why, why_cap, "line %u: %s given twice", line_no, knob_name(row->knob));
        return false;
      }
      seen[r] = true;
      const char* v = name_end;
      for (unsigned i = 0; i < row->count; ++i) {
        while (v < end && (*v == ' ' || *v == '\t')) ++v;
        char* stop = nullptr;
        errno = 0;
        const unsigned long value = v < end ? strtoul(v, &stop, 10) : 0;
        if (v >= end || stop == v || errno != 0 || value > UINT32_MAX || (stop < end && *stop != ' ' && *stop != '\t')) {
          snprintf(why, why_cap, "line %u: %s needs %u unsigned values, value %u is missing or not a number", line_no,
                   knob_name(row->knob), row->count, i + 1);
          return false;
        }
        row->values[i] = static_cast<uint32_t>(value);
        v = stop;
      }
      while (v < end && (*v == ' ' || *v == '\t' || *v == '\r')) ++v;
      if (v != end) {
        snprintf(why, why_cap, "line %u: %s has more than %u values", line_no, knob_name(row->knob), row->count);
        return false;
      }
    }
    p = *end == '\n' ? end + 1 : end;
  }
  for (unsigned r = 0; r < rows.size(); ++r) {
    if (!seen[r]) {
      snprintf(why, why_cap, "%s is missing", knob_name(rows[r].knob));
      return false;
    }
  }
  if (!within(k, b)) {
    snprintf(why, why_cap, "a value lies outside the bounds of the HAKMEM_LEARN_* options");
    return false;
  }
  *out = k;
  return true;
}

}  // namespace hakmem::learn
