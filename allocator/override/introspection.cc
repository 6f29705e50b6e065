// The HAKMEM_STATS summary and mallinfo2 (see introspection.h).
#include "allocator/override/introspection.h"

#include "allocator/backend/l25_spans.h"
#include "allocator/backend/large.h"
#include "allocator/backend/superslab_manager.h"
#include "allocator/config/size_classes.h"
#include "allocator/pal/log.h"
#include "allocator/pal/pal.h"
#include "allocator/pal/process_status.h"
#include "allocator/pools/heap_registry.h"
#include "allocator/pools/l25_pool.h"

namespace hakmem {
namespace {

using ull = unsigned long long;

void print_class_table() {
  log_message("per size class, slow paths only: the front ends' fast paths (tiny hits) count nothing, "
              "so they cost nothing, nor do the mid cache's hits");
  log_message("  refills: batches from the thread heap (into a front end's or the mid cache); refilled: "
              "blocks in them;");
  log_message("  spilled: blocks given back in batches; freed: blocks given back one at a time "
              "(past the caches)");
  log_message("  %-5s %5s %6s %12s %12s %12s %12s", "kind", "class", "size", "refills", "refilled",
              "spilled", "freed");
  const ClassStatsTable table = total_class_stats();
  bool any = false;
  for (unsigned c = 0; c < kSlabClasses; ++c) {
    const ClassStats& s = table[c];
    if (s.refills + s.refilled_blocks + s.spilled_blocks + s.freed_blocks == 0) continue;
    any = true;
    log_message("  %-5s %5u %6u %12llu %12llu %12llu %12llu", c < kTinyClasses ? "tiny" : "mid", c,
                static_cast<unsigned>(kClassSize[c]), static_cast<ull>(s.refills),
                static_cast<ull>(s.refilled_blocks), static_cast<ull>(s.spilled_blocks),
                static_cast<ull>(s.freed_blocks));
  }
  if (!any) log_message("  (no slow-path events)");
}

}  // namespace

void print_stats(const char* variant) {
  log_message("stats of %s (HAKMEM_STATS)", variant);
  print_class_table();
  const SuperSlabStats ss = global_superslabs().stats();
  log_message("superslabs: %lld mapped, %lld released", static_cast<long long>(ss.superslabs_mapped + ss.superslabs_unmapped),
              static_cast<long long>(ss.superslabs_unmapped));
  const HeapStats heaps = total_heap_stats();
  log_message("heaps: %d active, %d made", active_heaps(), created_heaps());
  log_message("remote frees (blocks a thread freed that another thread's heap owns): %llu sent, %llu received",
              static_cast<unsigned long long>(heaps.remote_blocks_sent),
              static_cast<unsigned long long>(heaps.remote_blocks_received));
  const L25SpanStats l25 = global_l25_spans().stats();
  const L25PoolStats pool = global_l25_pool().stats();
  log_message("l25 regions: %lld mapped, %lld unmapped; %lld KiB in use, %lld KiB free (%lld KiB dirty), "
              "%lld KiB purged (and %lld KiB of page map)", static_cast<long long>(l25.regions_mapped + l25.regions_unmapped),
              static_cast<long long>(l25.regions_unmapped), static_cast<long long>(l25.in_use_pages * 4),
              static_cast<long long>(l25.free_pages * 4), static_cast<long long>(l25.dirty_pages * 4),
              static_cast<long long>(l25.purged_pages * 4), static_cast<long long>(l25.map_pages_purged * 4));
  log_message("l25 spans: %lld carved, %lld freed; %lld grown and %lld shrunk in place, %lld grows refused; "
              "shared caches: %lld hits, %lld kept (thread-cache hits count nothing)",
              static_cast<long long>(l25.spans_allocated), static_cast<long long>(l25.spans_released),
              static_cast<long long>(l25.grown_in_place), static_cast<long long>(l25.shrunk_in_place),
              static_cast<long long>(l25.grow_refused), static_cast<long long>(pool.shared_hits),
              static_cast<long long>(pool.shared_frees));
  const LargeStats large = global_large().stats();
  log_message("large blocks: %lld mapped, %lld unmapped; %lld resized in place, %lld resizes refused",
              static_cast<long long>(large.blocks_mapped), static_cast<long long>(large.blocks_unmapped),
              static_cast<long long>(large.remaps), static_cast<long long>(large.remap_failures));
  log_message("large cache: %lld blocks, %lld KiB (bound %lld KiB); %lld hits, %lld misses, %lld evicted; "
              "%lld purged and %lld unmapped after the delay",
              static_cast<long long>(large.cache.cached_blocks), static_cast<long long>(large.cache.cached_bytes >> 10),
              static_cast<long long>(global_large().cache_bound() >> 10), static_cast<long long>(large.cache.hits),
              static_cast<long long>(large.cache.misses), static_cast<long long>(large.cache.evicted),
              static_cast<long long>(large.cache.purged), static_cast<long long>(large.cache.expired));
  const int64_t peak = peak_rss_kib();
  if (peak >= 0) log_message("peak RSS: %lld KiB (VmHWM)", static_cast<long long>(peak));
  else log_message("peak RSS: unknown (VmHWM unreadable in /proc/self/status)");
  const SyscallCounts calls = g_os_pal.syscalls();
  log_message("system calls: %llu mmap, %llu munmap, %llu madvise, %llu mremap", static_cast<ull>(calls.mmap),
              static_cast<ull>(calls.munmap), static_cast<ull>(calls.madvise), static_cast<ull>(calls.mremap));
  if (calls.failed_mmap + calls.failed_munmap != 0) {
    log_message("refused by the OS: %llu mmap, %llu munmap; %lld freed large blocks still mapped "
                "(retried on the next large call and on trim)",
                static_cast<ull>(calls.failed_mmap), static_cast<ull>(calls.failed_munmap),
                static_cast<long long>(large.pending_unmaps));
  }
}

struct mallinfo2 current_mallinfo2() {
  const SuperSlabStats ss = global_superslabs().stats();
  const LargeStats large = global_large().stats();
  const L25SpanStats l25 = global_l25_spans().stats();
  struct mallinfo2 info = {};
  // The L25 regions are arena too: spans in use (cached ones included) are
  // allocated bytes, free spans free ones.
  info.arena = static_cast<size_t>(ss.superslab_bytes) +
               static_cast<size_t>(l25.regions_mapped) * kL25RegionSize;
  info.uordblks = static_cast<size_t>(ss.slabs_in_use) * kSlabSize +
                  static_cast<size_t>(l25.in_use_pages) * kL25PageSize;
  info.fordblks = info.arena - info.uordblks;
  info.hblks = static_cast<size_t>(large.live_blocks);
  info.hblkhd = static_cast<size_t>(large.mapped_bytes);
  return info;
}

uint64_t memory_return_calls() {
  const SyscallCounts calls = g_os_pal.syscalls();
  return calls.munmap + calls.madvise;
}

}  // namespace hakmem
