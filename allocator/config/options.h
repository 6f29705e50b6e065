// The options table: every runtime knob of hakmem, in one place.
//
// Each option has a name, a default, a range and a description. Its value
// comes from the environment variable HAKMEM_<NAME> (upper case), read once
// on first use; a value that is not an integer in range gets a one-line
// warning on stderr and the default. HAKMEM_VERBOSE=1 dumps the whole table.
//
// Adding an option: add one X(...) row to HAKMEM_OPTIONS below, anywhere in
// the list. The enum and the table are both generated from that one list,
// so a row can be neither missing nor out of order; options.cc checks the
// generated table at compile time (static_assert) all the same.
#pragma once

#include <atomic>
#include <cstdint>

// X(enumerator, name, default, min, max, description). The name is lower
// case; the variable is HAKMEM_<NAME>.
#define HAKMEM_OPTIONS(X)                                                    \
  X(kVerbose, "verbose", 0, 0, 1, "1: dump this table to stderr at start-up") \
  X(kDebug, "debug", 0, 0, 2,                                                \
    "invariant checks: 1 = cheap checks on slow paths (bad frees): tiny "    \
    "frees also skip the front-end cache so tiny double frees and interior " \
    "pointers are reported, 2 = also verify every touched slab and "         \
    "SuperSlab (slow)")                                                      \
  X(kPurgeDelayMs, "purge_delay_ms", 250, 0, 3'600'000,                     \
    "milliseconds free memory stays resident before it is returned to the "  \
    "OS (madvise DONTNEED, or unmapped); 0: at once (backend/decay.h)")      \
  X(kSuperSlabKib, "superslab_kib", 2048, 1024, 2048,                       \
    "KiB a new SuperSlab maps: 2048 (31 slabs) or 1024 (15 slabs, 2 MiB-"    \
    "aligned all the same); another value is warned of and taken as 2048")   \
  X(kSuperSlabCache, "superslab_cache", 1, 0, 1024,                          \
    "empty SuperSlabs kept mapped (purged) once the delay has passed; more " \
    "are unmapped")                                                          \
  X(kInboxDrainKib, "inbox_drain_kib", 256, 0, 1 << 20,                     \
    "KiB freed into another thread's heap since its last collection after "  \
    "which the freeing thread collects that heap's inbox itself, if the "    \
    "owner is not using its heap (0: at every remote free)")                 \
  X(kL25RegionCache, "l25_region_cache", 1, 0, 1024,                         \
    "empty 32 MiB L25 regions kept mapped for reuse; more are unmapped")     \
  X(kL25ThreadCacheKib, "l25_thread_cache_kib", 1024, 0, 1 << 20,            \
    "KiB of freed 32..256 KiB blocks each thread keeps for its next "        \
    "mallocs (0: none)")                                                     \
  X(kL25SharedCacheKib, "l25_shared_cache_kib", 0, 0, 1 << 22,               \
    "KiB of freed 32 KiB..2 MiB blocks the shared per-class caches keep "    \
    "before spans are coalesced (0: none, the default: cached blocks pin "  \
    "holes between free spans; mid_churn's peak RSS 128 -> 101 MiB)")        \
  X(kLargeCacheBytes, "large_cache_bytes", 128 << 20, 0, int64_t{1} << 40,  \
    "bytes of freed large mappings (above 2 MiB) kept mapped for reuse, "    \
    "so a malloc/free loop of MiB blocks makes no system call; 0: none. "    \
    "128 MiB: a batch of 16 blocks of 4 MiB (the microbenchmark's, 64 MiB "  \
    "and 16 header pages) twice over; glibc keeps up to 64 MiB of free "     \
    "heap top (its largest trim threshold) without any time limit")          \
  X(kMidCacheKib, "mid_cache_kib", 1024, 0, 1 << 20,                       \
    "KiB of free 1-32 KiB blocks each thread keeps cached in front of its "  \
    "heap, all mid classes together (0: no mid cache: every mid malloc and " \
    "free goes to the thread heap)")                                         \
  X(kPopulatePages, "populate_pages", 2, 0, 1 << 16,                         \
    "a refill that carves at least this many untouched pages of a fresh "    \
    "slab faults them in with one madvise(MADV_POPULATE_WRITE) instead of "  \
    "a page fault each (0: never; pools/thread_heap.cc, populate_carve)")    \
  X(kReallocHeadroomPct, "realloc_headroom_pct", 0, 0, 1000,                \
    "most headroom, in percent of the new size, realloc gives an L25 block " \
    "it moves to grow again after it grew by realloc before (0: none, the "  \
    "default: 100 made growth 1.1x faster at 1 thread but 2-thread peak "    \
    "RSS 84 -> 91 MiB; api/allocator.h, growth_request)")                    \
  X(kLearn, "learn", 0, 0, 3,                                                \
    "the learning layer (learner/process_learner.h): off = fixed knobs, "    \
    "the options' own values; rules = the rule-based baseline controller; "  \
    "on = ACE (learn/controller.h); frozen = the knobs in the file "         \
    "HAKMEM_LEARN_FILE names, which a rules or on run writes at exit "       \
    "(learn/knob_file.h). A name or its number (0-3)")                       \
  X(kLearnIntervalMs, "learn_interval_ms", 0, 0, 60'000,                    \
    "the learner thread's period: it wakes every N ms, runs every pool's "   \
    "purge pass, drains idle heaps' inboxes and, under rules or on, the "    \
    "controller; so a process that makes no call still returns its memory " \
    "once the purge delay has passed. 0: 20 ms under rules, on and frozen, " \
    "and no thread under off")                                               \
  X(kLearnAfterFork, "learn_after_fork", 1, 0, 1,                            \
    "1: a forked child starts its own learner thread at its next purge "     \
    "check; 0: the child runs without one")                                  \
  X(kLearnDwellWindows, "learn_dwell_windows", 3, 1, 1000,                  \
    "the learner's hysteresis: windows a signal must persist before a "      \
    "knob moves, and a knob's rest after a move (twice that before it may "  \
    "move back the other way; learn/controller.h)")                          \
  X(kLearnTinyCacheMinBlocks, "learn_tiny_cache_min_blocks", 8, 1, 4096,     \
    "the least a tiny class's cache may be given by the learner, in blocks")  \
  X(kLearnTinyCacheMaxBlocks, "learn_tiny_cache_max_blocks", 256, 1, 4096,   \
    "the most a tiny class's cache may be given by the learner, in blocks "  \
    "(a front end caps it at what its layout holds)")                        \
  X(kLearnTinyCacheKib, "learn_tiny_cache_kib", 1024, 16, 1 << 20,           \
    "KiB all tiny classes' caches of one thread may hold together under the " \
    "learner; a class that must grow past it takes from the idlest")         \
  X(kLearnMidCacheMinKib, "learn_mid_cache_min_kib", 128, 0, 1 << 20,        \
    "the least HAKMEM_MID_CACHE_KIB the learner may set")                    \
  X(kLearnMidCacheMaxKib, "learn_mid_cache_max_kib", 8192, 0, 1 << 20,       \
    "the most HAKMEM_MID_CACHE_KIB the learner may set")                     \
  X(kLearnL25CacheMinKib, "learn_l25_cache_min_kib", 128, 0, 1 << 20,        \
    "the least HAKMEM_L25_THREAD_CACHE_KIB the learner may set")             \
  X(kLearnL25CacheMaxKib, "learn_l25_cache_max_kib", 8192, 0, 1 << 20,       \
    "the most HAKMEM_L25_THREAD_CACHE_KIB the learner may set")              \
  X(kLearnLargeCacheMinMib, "learn_large_cache_min_mib", 0, 0, 1 << 20,      \
    "the least HAKMEM_LARGE_CACHE_BYTES the learner may set, in MiB")        \
  X(kLearnLargeCacheMaxMib, "learn_large_cache_max_mib", 512, 0, 1 << 20,    \
    "the most HAKMEM_LARGE_CACHE_BYTES the learner may set, in MiB")         \
  X(kLearnPurgeDelayMinMs, "learn_purge_delay_min_ms", 10, 0, 3'600'000,     \
    "the shortest HAKMEM_PURGE_DELAY_MS the learner may set")                \
  X(kLearnPurgeDelayMaxMs, "learn_purge_delay_max_ms", 10'000, 0, 3'600'000, \
    "the longest HAKMEM_PURGE_DELAY_MS the learner may set")                 \
  X(kStats, "stats", 0, 0, 1,                                                \
    "1: print a summary to stderr at exit (slow-path counts per class, "      \
    "SuperSlabs, large blocks, peak RSS, system calls); libhakmem_*.so only")

// Options whose values have names, each the value of its position in the
// list (from 0): Y(enumerator, "name0|name1|..."). The environment may give
// a name or its number; options.cc checks that a list names every value of
// its option's range.
#define HAKMEM_OPTION_VALUE_NAMES(Y) Y(kLearn, "off|rules|on|frozen")

namespace hakmem {

enum class Option : unsigned {
#define HAKMEM_OPTION_ENUMERATOR(id, name, default_value, min, max, description) id,
  HAKMEM_OPTIONS(HAKMEM_OPTION_ENUMERATOR)
#undef HAKMEM_OPTION_ENUMERATOR
  kCount,
};

struct OptionInfo {
  const char* name;  // lower case; the variable is HAKMEM_<NAME>
  int64_t default_value;
  int64_t min;
  int64_t max;
  const char* description;
  const char* value_names = nullptr;  // "a|b|c" for value 0, 1, 2 (HAKMEM_OPTION_VALUE_NAMES), or nullptr
};

// The name of `value` of an option with named values, or nullptr.
const char* option_value_name(Option option, int64_t value);

// The table itself, indexed by Option.
const OptionInfo& option_info(Option option);

namespace options_detail {
// The values in effect once loaded (g_state == 2; 0 before, 1 while one
// thread loads). option_value's inline half reads them, so a slow path
// that reads an option on every call (HAKMEM_DEBUG, in malloc_cold and
// free_cold) pays a load and a compare, not a call: the call cost hot_mag's
// preloaded random_free 0.03 instructions an operation, its misses coming
// once a magazine.
extern constinit std::atomic<int> g_state;
extern constinit int64_t g_value[];
[[gnu::cold, gnu::noinline]] int64_t load_then_read(Option option);
}  // namespace options_detail

// The value in effect (environment or default); the first call reads the
// environment.
inline int64_t option_value(Option option) {
  if (options_detail::g_state.load(std::memory_order_acquire) == 2) [[likely]]
    return options_detail::g_value[static_cast<unsigned>(option)];
  return options_detail::load_then_read(option);
}

// Re-reads the environment; tests use it after setenv().
void options_reload();

// Writes every option, its value and where the value came from to stderr.
void options_dump();

}  // namespace hakmem
