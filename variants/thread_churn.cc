// Thread churn stress (issue 11): many short-lived threads, a few alive at
// a time, each allocating blocks of every kind, freeing some itself and
// leaving others for later threads to free (remote frees into exited,
// abandoned heaps). It checks that
//   - heaps are reused: the heaps ever made stay within the peak number of
//     live threads (plus this thread's and the late heap), and so do the
//     active ones at every moment;
//   - memory comes back: RSS (/proc/self/statm) at the end is within 2 MiB
//     of RSS after a warm-up round, each read after a trim (skipped under
//     a sanitizer);
//   - every block keeps its contents until it is freed;
//   - allocations after a thread's exit destructor (every 8th thread has a
//     pthread key whose destructor allocates in the last round, as libc's
//     own clean-up may) take no heap of their own.
// A plain main, compiled once per variant by hakmem_variant():
//   <variant>_thread_churn [--smoke] [--threads=N] [--live=K] [--seed=S]
// --smoke is the test run (//variants:<variant>_thread_churn_test): the
// issue's 10,000 threads with little work each; without it, 100,000.
// Exit status 0 when every check holds; 1 with a line saying which failed;
// 2 on a bad flag.
#include <limits.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "allocator/backend/superslab_manager.h"
#include "allocator/pools/heap_registry.h"
#include "common/sanitizer.h"
#include "hakmem/variant.h"

namespace {

using A = hakmem::ThisVariant;

struct Config {
  long threads = 100000;
  long live = 4;                 // threads alive at once
  long blocks_per_thread = 200;
  uint64_t seed = 1;
};

bool parse_long(const char* text, long* out) {
  char* end = nullptr;
  const long v = strtol(text, &end, 10);
  if (end == text || *end != '\0' || v <= 0) return false;
  *out = v;
  return true;
}

// A block with its size and a pattern that identifies it.
struct Block {
  unsigned char* p;
  size_t size;
  unsigned char tag;
};

class Handoff {
 public:
  void put(std::vector<Block>&& blocks) {
    std::lock_guard lock(mutex_);
    for (Block& b : blocks) pool_.push_back(b);
  }
  std::vector<Block> take(size_t most) {
    std::lock_guard lock(mutex_);
    const size_t n = std::min(most, pool_.size());
    std::vector<Block> out(pool_.end() - static_cast<ptrdiff_t>(n), pool_.end());
    pool_.resize(pool_.size() - n);
    return out;
  }

 private:
  std::mutex mutex_;
  std::vector<Block> pool_;  // std::allocator: the system's malloc, not the variant's
};

std::atomic<long> g_corrupt{0};
std::atomic<int> g_peak_active{0};

void raise_to(std::atomic<int>& peak, int value) {
  int seen = peak.load();
  while (value > seen && !peak.compare_exchange_weak(seen, value)) {
  }
}

void check_and_free(const Block& b) {
  if (b.p[0] != b.tag || b.p[b.size - 1] != b.tag) g_corrupt.fetch_add(1);
  A::free(b.p);
}

size_t pick_size(std::mt19937_64& rng) {
  const unsigned r = static_cast<unsigned>(rng() % 100);
  if (r < 80) return 8 + rng() % 1016;              // tiny
  if (r < 99) return 1025 + rng() % (32 * 1024 - 1025);  // mid
  return 40 * 1024 + rng() % (200 * 1024);         // large
}

// The late key: its destructor comes after hakmem's in every round (the
// key is made later) and re-arms itself up to the last round, where it
// allocates a tiny and a mid block, frees one and leaves the other to a
// later thread.
pthread_key_t g_late_key;
Handoff* g_handoff = nullptr;
thread_local int t_rounds = 0;

void allocate_after_exit(void*) {
  if (++t_rounds < PTHREAD_DESTRUCTOR_ITERATIONS) {
    pthread_setspecific(g_late_key, &t_rounds);
    return;
  }
  auto* tiny = static_cast<unsigned char*>(A::malloc(100));
  auto* mid = static_cast<unsigned char*>(A::malloc(5000));
  if (tiny == nullptr || mid == nullptr) {
    g_corrupt.fetch_add(1);
    return;
  }
  tiny[0] = tiny[99] = 7;
  A::free(mid);
  std::vector<Block> leave{{tiny, 100, 7}};
  g_handoff->put(std::move(leave));
}

void churn_thread(const Config& config, uint64_t seed, Handoff& handoff) {
  // ThreadSanitizer's runtime finishes the thread in the last destructor
  // round itself; instrumented code cannot run after it (ASan's lets it).
  if (seed % 8 == 0 && !lab::kUnderThreadSanitizer) pthread_setspecific(g_late_key, &t_rounds);
  std::mt19937_64 rng(seed);
  std::vector<Block> mine;
  for (long i = 0; i < config.blocks_per_thread; ++i) {
    const size_t size = pick_size(rng);
    auto* p = static_cast<unsigned char*>(A::malloc(size));
    if (p == nullptr) {
      g_corrupt.fetch_add(1);
      continue;
    }
    const auto tag = static_cast<unsigned char>(rng());
    p[0] = p[size - 1] = tag;
    mine.push_back({p, size, tag});
  }
  raise_to(g_peak_active, hakmem::active_heaps());
  // Blocks of earlier (mostly exited) threads: remote frees.
  for (const Block& b : handoff.take(mine.size() / 4)) check_and_free(b);
  // A quarter goes to later threads, the rest is freed here.
  std::shuffle(mine.begin(), mine.end(), rng);
  std::vector<Block> leave(mine.begin(), mine.begin() + static_cast<ptrdiff_t>(mine.size() / 4));
  for (size_t i = mine.size() / 4; i < mine.size(); ++i) check_and_free(mine[i]);
  handoff.put(std::move(leave));
}

// Runs `count` threads, config.live at a time, created and joined in waves.
void run_threads(const Config& config, long count, uint64_t first_seed, Handoff& handoff) {
  for (long started = 0; started < count;) {
    std::vector<std::thread> wave;
    for (long i = 0; i < config.live && started < count; ++i, ++started)
      wave.emplace_back(churn_thread, std::cref(config), first_seed + static_cast<uint64_t>(started), std::ref(handoff));
    for (std::thread& t : wave) t.join();
  }
}

// Frees every block left over, from a thread of its own, which exits: its
// front-end cache goes home too, as every churn thread's did.
void drain(Handoff& handoff) {
  std::thread([&] {
    for (const Block& b : handoff.take(SIZE_MAX)) check_and_free(b);
  }).join();
}

long rss_kib() {
  FILE* f = fopen("/proc/self/statm", "r");
  if (f == nullptr) return -1;
  long size = 0, resident = 0;
  const int n = fscanf(f, "%ld %ld", &size, &resident);
  fclose(f);
  return n == 2 ? resident * (sysconf(_SC_PAGESIZE) / 1024) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  Config config;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&](const char* prefix) -> const char* {
      return arg.rfind(prefix, 0) == 0 ? argv[i] + strlen(prefix) : nullptr;
    };
    if (arg == "--smoke") {
      config.threads = 10000;
      config.blocks_per_thread = 40;
    } else if (const char* v = value("--threads=")) {
      if (!parse_long(v, &config.threads)) return fprintf(stderr, "thread_churn: bad --threads: %s\n", v), 2;
    } else if (const char* v = value("--live=")) {
      if (!parse_long(v, &config.live)) return fprintf(stderr, "thread_churn: bad --live: %s\n", v), 2;
    } else if (const char* v = value("--seed=")) {
      config.seed = strtoull(v, nullptr, 10);
    } else {
      fprintf(stderr, "thread_churn: unknown flag %s (--smoke, --threads=N, --live=K, --seed=S)\n", argv[i]);
      return 2;
    }
  }
  if (A::kLimits.single_thread) {
    printf("thread_churn: %s serves one thread by design; nothing to churn\n", A::kName.data());
    return 0;
  }

  Handoff handoff;
  A::free(A::malloc(16));  // this thread's heap (and hakmem's exit key) first
  g_handoff = &handoff;
  if (pthread_key_create(&g_late_key, allocate_after_exit) != 0) {
    printf("FAIL: pthread_key_create\n");
    return 1;
  }
  // Warm-up: one round of the steady state, everything freed.
  const long warm = std::min(config.threads, 10 * config.live);
  run_threads(config, warm, config.seed, handoff);
  drain(handoff);
  // Both RSS readings follow a trim: what the memory-return policy may
  // keep resident on purpose (up to 2 MiB of dirty free slabs, a depot's
  // magazines, inboxes below their threshold) varies from run to run and
  // is not growth; what a trim cannot give back is.
  A::trim();
  const long rss_warm = rss_kib();
  const hakmem::SuperSlabStats ss_warm = hakmem::global_superslabs().stats();

  run_threads(config, config.threads - warm, config.seed + static_cast<uint64_t>(warm), handoff);
  drain(handoff);
  A::trim();
  const long rss_end = rss_kib();
  const hakmem::SuperSlabStats ss_end = hakmem::global_superslabs().stats();

  // Threads alive at once: a wave, created and not yet joined (a thread's
  // heap is released at its exit, after its body, before its join).
  const int peak_live = static_cast<int>(std::min(config.live, config.threads));
  const int created = hakmem::created_heaps();
  printf("thread_churn %s: %ld threads, %ld alive at once; peak live %d, peak active heaps %d, heaps made %d; "
         "RSS %ld KiB after warm-up, %ld KiB at the end\n",
         A::kName.data(), config.threads, config.live, peak_live, g_peak_active.load(), created, rss_warm, rss_end);
  printf("slabs in use %" PRId64 " -> %" PRId64 ", SuperSlabs mapped %" PRId64 " -> %" PRId64
         ", dirty free slabs %" PRId64 " -> %" PRId64 "\n",
         ss_warm.slabs_in_use, ss_end.slabs_in_use, ss_warm.superslabs_mapped, ss_end.superslabs_mapped,
         ss_warm.dirty_free_slabs, ss_end.dirty_free_slabs);
  int failures = 0;
  if (g_corrupt.load() != 0) {
    printf("FAIL: %ld blocks were missing or corrupted\n", g_corrupt.load());
    ++failures;
  }
  // This thread's heap is active throughout; the late heap may exist too.
  if (g_peak_active.load() > peak_live + 1) {
    printf("FAIL: %d heaps active at once with at most %d threads alive (and this one)\n", g_peak_active.load(),
           peak_live);
    ++failures;
  }
  if (created > peak_live + 2) {
    printf("FAIL: %d heaps made for at most %d live threads: exited threads' heaps were not reused\n", created,
           peak_live);
    ++failures;
  }
  if (lab::kUnderSanitizer) {
    printf("RSS not checked: under a sanitizer it includes shadow memory\n");
  } else if (rss_warm < 0 || rss_end < 0) {
    printf("FAIL: /proc/self/statm unreadable\n");
    ++failures;
  } else if (rss_end - rss_warm > 2048) {
    printf("FAIL: RSS grew by %ld KiB over the churn (at most 2048)\n", rss_end - rss_warm);
    ++failures;
  }
  return failures == 0 ? 0 : 1;
}
