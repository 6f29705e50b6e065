// mixed_lifo: batches of mixed-size blocks, each stamped when allocated and
// checked before it is freed, freed in reverse order (last in, first out).
//
// Per worker: ops / threads operations, in batches of `batch` allocations
// followed by `batch` frees; sizes uniform in [min_size, max_size] from a
// per-worker seeded ring.
#include <algorithm>
#include <vector>

#include "workloads/live_blocks.h"
#include "workloads/workload.h"

namespace lab {
namespace {

class MixedLifo final : public Workload {
 public:
  explicit MixedLifo(const WorkloadConfig& config)
      : Workload(config.threads),
        seed_(config.seed),
        batch_(static_cast<uint32_t>(config.params.at("batch"))),
        max_size_(static_cast<size_t>(config.params.at("max_size"))),
        batches_per_worker_(std::max<uint64_t>(1, config.ops / config.threads / (2 * batch_))) {
    for (unsigned w = 0; w < workers(); ++w) {
      rings_.emplace_back(seed_ * 1000003 + w, static_cast<size_t>(config.params.at("min_size")), max_size_);
    }
  }

  void run(unsigned w) override {
    SizeRing& sizes = rings_[w];
    std::vector<LiveBlock> blocks(batch_);
    uint64_t id = first_block_id(w);
    const uint64_t seed = seed_;  // a local: the allocator's calls cannot change it
    LiveBlock* const batch = blocks.data();
    for (uint64_t b = 0; b < batches_per_worker_; ++b, id += batch_) {
      // Most batches (100 blocks against N = 1024) time no call: their loops
      // are written out as they were before sampling, because through
      // sampled_steps() GCC kept one more index live and this, the lab's
      // tightest loop, ran 0.7 more instructions an operation (48.65 against
      // 47.98 under hot_mag; 47.12 before sampling).
      if (!any_timed_step(id, batch_)) [[likely]] {
        uint64_t next = id;
        for (LiveBlock& block : blocks) block = new_block<Timing::kNever>(sizes.next(), seed, next++);
        for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) release_block<Timing::kNever>(*it, seed);
        continue;
      }
      sampled_steps(id, batch_, [&](uint64_t k, auto timing) __attribute__((always_inline)) {
        batch[k] = new_block<timing()>(sizes.next(), seed, id + k);
      });
      sampled_steps<true>(id, batch_, [&](uint64_t k, auto timing) __attribute__((always_inline)) {
        release_block<timing()>(batch[k], seed);
      });
    }
    const uint64_t n = batches_per_worker_ * batch_;
    counts_[w].allocations = n;
    counts_[w].frees = n;
    counts_[w].checked = n;
  }

  void drain(unsigned) override {}  // every batch is freed inside the timed loop

  size_t max_block_size() const override { return max_size_; }

 private:
  uint64_t seed_;
  uint32_t batch_;
  size_t max_size_;
  uint64_t batches_per_worker_;
  std::vector<SizeRing> rings_;
};

std::unique_ptr<Workload> make_mixed_lifo(const WorkloadConfig& config, std::string* error) {
  if (!size_range_ok(config, error)) return nullptr;
  return std::make_unique<MixedLifo>(config);
}

}  // namespace

extern const WorkloadDef kMixedLifo = {
    "mixed_lifo",
    "batches of mixed-size blocks, stamped, checked and freed in reverse order",
    100'000'000,
    0,
    {
        {"batch", 100, 1, 1 << 20, "blocks allocated per batch before the batch is freed"},
        {"min_size", 16, 1, 1 << 26, "smallest block size in bytes"},
        {"max_size", 1024, 1, 1 << 26, "largest block size in bytes"},
    },
    &make_mixed_lifo,
};

}  // namespace lab
