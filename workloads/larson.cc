// larson: server churn after Larson and Krishnan (ISMM 1998). Each worker
// is a lineage of short-lived threads sharing one array of live blocks:
// every round a new thread is created, replaces `round_ops / 2` random
// blocks (free + allocate = 2 operations each) and exits; the next round's
// thread inherits the array. Blocks are freed by threads that did not
// allocate them, by the time their allocator's thread has exited, and
// threads keep being created and joined inside the timed region.
#include <algorithm>
#include <thread>
#include <vector>

#include "workloads/live_blocks.h"
#include "workloads/support/rng.h"
#include "workloads/workload.h"

namespace lab {
namespace {

class Larson final : public Workload {
 public:
  explicit Larson(const WorkloadConfig& config)
      : Workload(config.threads),
        seed_(config.seed),
        slots_(static_cast<size_t>(config.params.at("slots"))),
        min_size_(static_cast<size_t>(config.params.at("min_size"))),
        max_size_(static_cast<size_t>(config.params.at("max_size"))),
        replacements_per_round_(std::max<uint64_t>(1, static_cast<uint64_t>(config.params.at("round_ops")) / 2)),
        rounds_(std::max<uint64_t>(1, config.ops / config.threads / (2 * replacements_per_round_))),
        live_(workers()) {}

  void prepare(unsigned w) override {
    SizeRing sizes(seed_ * 6151 + w, min_size_, max_size_);
    fill_blocks(live_[w], slots_, sizes, seed_, first_block_id(w));
    counts_[w].prepare_allocations = slots_;
  }

  void run(unsigned w) override {
    uint64_t id = first_block_id(w) + slots_;
    for (uint64_t round = 0; round < rounds_; ++round) {
      // A new thread per round; it inherits the array and the ids to come,
      // and the worker's latency sampler (the worker waits in join()).
      std::thread([&, round, sampler = t_latency_sampler] {
        LatencyBinding timed(sampler);
        churn(w, round, id);
      }).join();
      id += replacements_per_round_;
    }
    const uint64_t n = rounds_ * replacements_per_round_;
    counts_[w].allocations = n;
    counts_[w].frees = n;
    counts_[w].checked = n;
  }

  void drain(unsigned w) override {
    counts_[w].drain_frees = drain_blocks(live_[w], seed_);
    counts_[w].checked += counts_[w].drain_frees;
  }

  size_t max_block_size() const override { return max_size_; }
  bool allocates_from_new_threads() const override { return true; }

 private:
  void churn(unsigned w, uint64_t round, uint64_t first_id) {
    const uint64_t stream = (seed_ * 1000003 + w) * 65537 + round;
    SizeRing sizes(stream, min_size_, max_size_);
    Rng rng(stream ^ 0x9E3779B97F4A7C15ull);
    std::vector<LiveBlock>& live = live_[w];
    uint64_t id = first_id;
    sampled_steps(id, replacements_per_round_, [&](uint64_t, auto timing) __attribute__((always_inline)) {
      replace_block<timing()>(live[rng.below(slots_)], sizes, seed_, id);
    });
  }

  uint64_t seed_;
  size_t slots_;
  size_t min_size_;
  size_t max_size_;
  uint64_t replacements_per_round_;
  uint64_t rounds_;
  std::vector<std::vector<LiveBlock>> live_;
};

std::unique_ptr<Workload> make_larson(const WorkloadConfig& config, std::string* error) {
  if (!size_range_ok(config, error)) return nullptr;
  return std::make_unique<Larson>(config);
}

}  // namespace

extern const WorkloadDef kLarson = {
    "larson",
    "server churn: lineages of short-lived threads replace random blocks of an inherited array",
    20'000'000,
    0,
    {
        {"slots", 10'000, 1, 1 << 24, "live blocks per lineage"},
        {"round_ops", 100'000, 2, int64_t{1} << 40, "operations per thread before it hands over and exits"},
        {"min_size", 16, 1, 1 << 26, "smallest block size in bytes"},
        {"max_size", 1024, 1, 1 << 26, "largest block size in bytes"},
    },
    &make_larson,
};

}  // namespace lab
