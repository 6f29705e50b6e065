// phase_change: a program whose allocation pattern changes under it, so
// that no fixed setting of an allocator's knobs suits it throughout
// (issue 13's workload for the learning layer). Every worker runs the same
// five phases in step, a barrier between each, and worker 0 marks each
// start:
//
//   burst        batches of --burst-blocks tiny blocks (16..256 B), each
//                batch allocated and then freed in random order: a thread
//                cache that holds a batch and refills in large batches wins
//   working_set  a working set of --ws-mb (all workers together) of mid and
//                L2.5 blocks (1..256 KiB, log-uniform), churned by random
//                replacement: large mid and L2.5 thread caches win
//   idle         the working set is freed down to a live set of
//                --idle-live-kb, then no thread calls the allocator for
//                --idle-ms: only memory returned without a call (a
//                background thread's purge) lowers RSS now, and a long
//                purge delay or large caches keep it high
//   handoff      worker pairs (2k, 2k+1): the even one allocates blocks of
//                16..2048 B and passes them through a queue to the odd one,
//                which frees them (remote frees); an unpaired last worker
//                allocates and frees its own
//   burst        the first phase again, after the caches were resized for
//                the others
//
// The operations --ops (0: the default) are split over the busy phases so
// that each takes a similar time on this lab's machines, 200 to 700 ms at
// the default of 80 million: 42% to each burst, 2.5% to the working set
// (its blocks are large, and every one is written), 13% to the handoff;
// the idle phase's frees count besides. A phase must outlast the learner's
// reaction (HAKMEM_LEARN_DWELL_WINDOWS windows of HAKMEM_LEARN_INTERVAL_MS:
// 60 ms by default), or no controller can follow it. The idle live set stays
// live until the drain. Deterministic for a seed. RSS is sampled every
// 10 ms by default. The idle phase makes wall time larger than the work's:
// compare phase_change by ops per CPU-second and by the time-integral of
// RSS (rss_integral_mib_s), not by ops/s alone.
#include <algorithm>
#include <barrier>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "workloads/live_blocks.h"
#include "workloads/support/rng.h"
#include "workloads/support/spsc_queue.h"
#include "workloads/workload.h"

namespace lab {
namespace {

constexpr size_t kBurstMin = 16, kBurstMax = 256;
constexpr size_t kWsMin = 1024, kWsMax = 256 * 1024;
constexpr size_t kHandoffMin = 16, kHandoffMax = 2048;

// One worker's state, on cache lines of its own.
//   ws_bytes == sum of ws[i].size
struct alignas(64) Worker {
  Worker(uint64_t seed)
      : burst_sizes(seed * 3 + 1, kBurstMin, kBurstMax),
        ws_sizes(seed * 3 + 2, kWsMin, kWsMax, SizeSpread::kLogUniform),
        handoff_sizes(seed * 3 + 3, kHandoffMin, kHandoffMax),
        rng(seed) {}
  SizeRing burst_sizes, ws_sizes, handoff_sizes;
  Rng rng;
  std::vector<LiveBlock> batch;  // a burst's blocks
  std::vector<LiveBlock> ws;     // the working set, then the idle live set
  uint64_t ws_bytes = 0;
  uint64_t next_id = 0;
};

class PhaseChange final : public Workload {
 public:
  explicit PhaseChange(const WorkloadConfig& config)
      : Workload(config.threads),
        seed_(config.seed),
        burst_blocks_(static_cast<size_t>(config.params.at("burst_blocks"))),
        ws_bytes_((static_cast<uint64_t>(config.params.at("ws_mb")) << 20) / config.threads),
        idle_live_bytes_(static_cast<uint64_t>(config.params.at("idle_live_kb")) * 1024 / config.threads),
        idle_ms_(config.params.at("idle_ms")),
        burst_ops_(share(config, 0.42)),
        ws_ops_(share(config, 0.025)),
        handoff_ops_(share(config, 0.13)),
        barrier_(config.threads) {
    for (unsigned w = 0; w < workers(); ++w) state_.push_back(std::make_unique<Worker>(seed_ * 7919 + w));
    for (unsigned w = 0; w + 1 < workers(); w += 2)
      queues_.push_back(std::make_unique<SpscQueue>(static_cast<size_t>(config.params.at("depth"))));
  }

  void prepare(unsigned w) override {
    Worker& s = *state_[w];
    s.next_id = first_block_id(w);
    // Room for everything the run holds, so the timed region grows no vector.
    s.batch.reserve(burst_blocks_);
    s.ws.reserve(ws_bytes_ / kWsMin + 2);
    if (w == 0) marks_.reserve();
  }

  void run(unsigned w) override {
    phase(w, "burst");
    burst(w);
    phase(w, "working_set");
    working_set(w);
    phase(w, "idle");
    idle(w);
    phase(w, "handoff");
    handoff(w);
    phase(w, "burst");
    burst(w);
    counts_[w].checked = counts_[w].frees;
  }

  void drain(unsigned w) override {
    Worker& s = *state_[w];
    counts_[w].drain_frees = drain_blocks(s.ws, seed_);
    counts_[w].checked += counts_[w].drain_frees;
    s.ws_bytes = 0;
  }

  size_t max_block_size() const override { return kWsMax; }
  bool measures_memory_return() const override { return true; }
  std::vector<PhaseMark> phases() const override { return marks_.marks(); }

 private:
  // A worker's operations in a phase that gets `fraction` of them all.
  static uint64_t share(const WorkloadConfig& config, double fraction) {
    return std::max<uint64_t>(1, static_cast<uint64_t>(static_cast<double>(config.ops) * fraction) / config.threads);
  }

  // Every worker reaches the phase's start; then worker 0 marks it.
  void phase(unsigned w, const char* name) {
    barrier_.arrive_and_wait();
    marks_.mark(w, name);
  }

  void burst(unsigned w) {
    Worker& s = *state_[w];
    WorkerCounts& n = counts_[w];
    const uint64_t batches = std::max<uint64_t>(1, burst_ops_ / (2 * burst_blocks_));
    for (uint64_t b = 0; b < batches; ++b) {
      for (size_t i = 0; i < burst_blocks_; ++i) s.batch.push_back(new_block(s.burst_sizes.next(), seed_, s.next_id++));
      n.allocations += burst_blocks_;
      while (!s.batch.empty()) {
        const size_t i = s.rng.below(s.batch.size());
        release_block(s.batch[i], seed_);
        s.batch[i] = s.batch.back();
        s.batch.pop_back();
      }
      n.frees += burst_blocks_;
    }
  }

  void add_ws(Worker& s) {
    const LiveBlock& b = s.ws.emplace_back(new_block(s.ws_sizes.next(), seed_, s.next_id++));
    s.ws_bytes += b.size;
  }

  void working_set(unsigned w) {
    Worker& s = *state_[w];
    WorkerCounts& n = counts_[w];
    uint64_t ops = 0;
    while (s.ws_bytes < ws_bytes_) {
      add_ws(s);
      ++ops;
    }
    n.allocations += ops;
    // Random replacement: free one, allocate another, near the target size.
    for (; ops < ws_ops_; ops += 2) {
      const size_t i = s.rng.below(s.ws.size());
      s.ws_bytes -= s.ws[i].size;
      release_block(s.ws[i], seed_);
      s.ws[i] = s.ws.back();
      s.ws.pop_back();
      add_ws(s);
      ++n.frees;
      ++n.allocations;
    }
  }

  // Frees the working set down to the live set, then calls nothing.
  void idle(unsigned w) {
    Worker& s = *state_[w];
    uint64_t kept = 0;
    size_t keep = 0;
    while (keep < s.ws.size() && kept + s.ws[keep].size <= idle_live_bytes_) kept += s.ws[keep++].size;
    for (size_t i = keep; i < s.ws.size(); ++i) release_block(s.ws[i], seed_);
    counts_[w].frees += s.ws.size() - keep;
    s.ws.resize(keep);
    s.ws_bytes = kept;
    barrier_.arrive_and_wait();
    marks_.mark(w, "idle_quiet");  // every worker has made its last call
    std::this_thread::sleep_for(std::chrono::milliseconds(idle_ms_));
  }

  void handoff(unsigned w) {
    Worker& s = *state_[w];
    WorkerCounts& n = counts_[w];
    const uint64_t blocks = std::max<uint64_t>(1, handoff_ops_ / 2);
    if (w / 2 >= queues_.size()) {  // unpaired: its own blocks, freed at once
      for (uint64_t i = 0; i < blocks; ++i) release_block(new_block(s.handoff_sizes.next(), seed_, s.next_id++), seed_);
      n.allocations += blocks;
      n.frees += blocks;
      return;
    }
    SpscQueue& q = *queues_[w / 2];
    Backoff backoff;
    if (w % 2 == 0) {
      for (uint64_t i = 0; i < blocks; ++i) {
        const LiveBlock b = new_block(s.handoff_sizes.next(), seed_, s.next_id++);
        while (!q.try_push(b)) backoff.wait();
        backoff.reset();
      }
      n.allocations += blocks;
      return;
    }
    for (uint64_t freed = 0; freed < blocks;) {
      LiveBlock b;
      if (!q.try_pop(&b)) {
        backoff.wait();
        continue;
      }
      backoff.reset();
      release_block(b, seed_);
      ++freed;
    }
    n.frees += blocks;
  }

  uint64_t seed_;
  size_t burst_blocks_;
  uint64_t ws_bytes_;         // per worker
  uint64_t idle_live_bytes_;  // per worker
  int64_t idle_ms_;
  uint64_t burst_ops_, ws_ops_, handoff_ops_;  // per worker
  std::barrier<> barrier_;
  std::vector<std::unique_ptr<Worker>> state_;
  std::vector<std::unique_ptr<SpscQueue>> queues_;  // one per worker pair
  PhaseLog marks_;  // reserved in prepare
};

std::unique_ptr<Workload> make_phase_change(const WorkloadConfig& config, std::string* error) {
  if (config.params.at("idle_live_kb") * 1024 > config.params.at("ws_mb") << 20) {
    *error = "--idle_live_kb (" + std::to_string(config.params.at("idle_live_kb")) + ") is above --ws_mb (" +
             std::to_string(config.params.at("ws_mb")) + " MiB): the idle live set is what is left of the working set";
    return nullptr;
  }
  return std::make_unique<PhaseChange>(config);
}

}  // namespace

extern const WorkloadDef kPhaseChange = {
    "phase_change",
    "a tiny burst, a mid/L2.5 working set, an idle pause with a small live set, a cross-thread handoff, the burst "
    "again: no fixed knob setting suits every phase",
    80'000'000,
    10,
    {
        {"burst_blocks", 4096, 1, 1 << 20, "tiny blocks per burst batch (allocated, then freed in random order)"},
        {"ws_mb", 32, 1, 1 << 14, "MiB of mid and L2.5 blocks in the working set, all workers together"},
        {"idle_live_kb", 512, 0, 1 << 24, "KiB left live through the idle phase, all workers together"},
        {"idle_ms", 1000, 0, 600'000, "milliseconds of the idle phase, in which no thread calls the allocator"},
        {"depth", 1024, 1, 1 << 20, "capacity of each handoff queue, in blocks"},
    },
    &make_phase_change,
};

}  // namespace lab
