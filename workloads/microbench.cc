// Microbenchmarks: nanoseconds per malloc+free pair, compiled once per
// allocator (lab/allocator.h) like the workload drivers. Each iteration is
// one pair: a batch of N allocations of one size, then N frees in LIFO,
// FIFO or random order (a fixed permutation, drawn before timing).
// They are measured binaries, so they live beside the drivers; run them all
// with `bazel run -c opt //harness:microbench`.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "lab/allocator.h"

namespace {

enum class Order { kLifo, kFifo, kRandom };

// Batches of 100 pairs; 16 above 32 KiB, to keep the live set small (64 MiB
// of 4 MiB blocks).
int64_t batch_for(int64_t size) { return size > 32768 ? 16 : 100; }

template <Order kOrder>
void pairs(benchmark::State& state) {
  const size_t size = static_cast<size_t>(state.range(0));
  if (size > lab::kAllocatorLimits.max_size) {
    static const std::string why = "this allocator declares it serves blocks up to " +
                                   std::to_string(lab::kAllocatorLimits.max_size) + " bytes";
    state.SkipWithError(why.c_str());
    return;
  }
  const int64_t n = batch_for(state.range(0));
  std::vector<void*> blocks(static_cast<size_t>(n));
  std::vector<int64_t> order(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = kOrder == Order::kLifo ? n - 1 - i : i;
  if constexpr (kOrder == Order::kRandom) std::shuffle(order.begin(), order.end(), std::mt19937_64(42));
  while (state.KeepRunningBatch(n)) {
    for (int64_t i = 0; i < n; ++i) {
      void* p = lab::allocate(size);
      benchmark::DoNotOptimize(p);
      if (p == nullptr) [[unlikely]] {
        state.SkipWithError("allocation returned NULL");
        return;
      }
      blocks[static_cast<size_t>(i)] = p;
    }
    for (int64_t i = 0; i < n; ++i) lab::deallocate(blocks[static_cast<size_t>(order[static_cast<size_t>(i)])]);
  }
  state.SetItemsProcessed(state.iterations());
  state.SetLabel(lab::kAllocatorName);
}

// 16 B to 1 KiB: tiny classes; 8 KiB: mid; 64, 256 and 512 KiB: the L25
// range (32 KiB to 2 MiB); 4 MiB: large blocks.
void sizes(benchmark::internal::Benchmark* b) {
  for (int64_t size : {16, 64, 256, 1024, 8192, 65536, 262144, 524288, 4194304}) b->Arg(size);
}

BENCHMARK(pairs<Order::kLifo>)->Name("lifo")->Apply(sizes);
BENCHMARK(pairs<Order::kFifo>)->Name("fifo")->Apply(sizes);
BENCHMARK(pairs<Order::kRandom>)->Name("random")->Apply(sizes);

}  // namespace

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
  benchmark::AddCustomContext("allocator", lab::kAllocatorName);
  benchmark::AddCustomContext("allocator_kind", lab::kAllocatorKind);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
