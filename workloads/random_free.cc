// random_free: a working set of live blocks per worker; each step frees a
// random slot and allocates a block of random size into it (2 operations).
// The working set is filled before the timed region and freed after it.
#include <algorithm>
#include <vector>

#include "workloads/live_blocks.h"
#include "workloads/support/rng.h"
#include "workloads/workload.h"

namespace lab {
namespace {

class RandomFree final : public Workload {
 public:
  explicit RandomFree(const WorkloadConfig& config)
      : Workload(config.threads),
        seed_(config.seed),
        slots_(static_cast<size_t>(config.params.at("slots"))),
        min_size_(static_cast<size_t>(config.params.at("min_size"))),
        max_size_(static_cast<size_t>(config.params.at("max_size"))),
        steps_per_worker_(std::max<uint64_t>(1, config.ops / config.threads / 2)),
        live_(workers()) {}

  void prepare(unsigned w) override {
    SizeRing sizes(seed_ * 7919 + w, min_size_, max_size_);
    fill_blocks(live_[w], slots_, sizes, seed_, first_block_id(w));
    counts_[w].prepare_allocations = slots_;
  }

  void run(unsigned w) override {
    SizeRing sizes(seed_ * 104729 + w, min_size_, max_size_);
    Rng rng(seed_ ^ (0xA5A5A5A5ull * (w + 1)));
    std::vector<LiveBlock>& live = live_[w];
    uint64_t id = worker_first_run_id(w);
    sampled_steps(id, steps_per_worker_, [&](uint64_t, auto timing) __attribute__((always_inline)) {
      replace_block<timing()>(live[rng.below(slots_)], sizes, seed_, id);
    });
    counts_[w].allocations = steps_per_worker_;
    counts_[w].frees = steps_per_worker_;
    counts_[w].checked = steps_per_worker_;
  }

  void drain(unsigned w) override {
    counts_[w].drain_frees = drain_blocks(live_[w], seed_);
    counts_[w].checked += counts_[w].drain_frees;
  }

  size_t max_block_size() const override { return max_size_; }

 private:
  // Run ids continue after the prepare ids, so every block has its own.
  uint64_t worker_first_run_id(unsigned w) const { return first_block_id(w) + slots_; }

  uint64_t seed_;
  size_t slots_;
  size_t min_size_;
  size_t max_size_;
  uint64_t steps_per_worker_;
  std::vector<std::vector<LiveBlock>> live_;
};

std::unique_ptr<Workload> make_random_free(const WorkloadConfig& config, std::string* error) {
  if (!size_range_ok(config, error)) return nullptr;
  return std::make_unique<RandomFree>(config);
}

}  // namespace

extern const WorkloadDef kRandomFree = {
    "random_free",
    "a working set of live blocks; each step frees a random one and allocates a new one in its place",
    10'000'000,
    0,
    {
        {"slots", 50'000, 1, 1 << 26, "live blocks per worker"},
        {"min_size", 16, 1, 1 << 26, "smallest block size in bytes"},
        {"max_size", 1024, 1, 1 << 26, "largest block size in bytes"},
    },
    &make_random_free,
};

}  // namespace lab
