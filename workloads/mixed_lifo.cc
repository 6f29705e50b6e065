// mixed_lifo: batches of mixed-size blocks, each stamped when allocated and
// checked before it is freed, freed in reverse order (last in, first out).
//
// Per worker: ops / threads operations, in batches of `batch` allocations
// followed by `batch` frees. Sizes are uniform in [min_size, max_size],
// drawn from a per-worker seeded PRNG into a ring before the timed region,
// so the timed loop is allocator calls, stamps and checks.
#include <algorithm>
#include <atomic>
#include <vector>

#include "lab/allocator.h"
#include "workloads/support/rng.h"
#include "workloads/support/validate.h"
#include "workloads/workload.h"

namespace lab {
namespace {

constexpr size_t kSizeRing = 1 << 16;

class MixedLifo final : public Workload {
 public:
  explicit MixedLifo(const WorkloadConfig& config)
      : threads_(config.threads),
        seed_(config.seed),
        batch_(static_cast<uint32_t>(config.params.at("batch"))),
        min_size_(static_cast<size_t>(config.params.at("min_size"))),
        max_size_(static_cast<size_t>(config.params.at("max_size"))),
        batches_per_worker_(std::max<uint64_t>(1, config.ops / threads_ / (2 * batch_))),
        workers_(threads_) {
    for (unsigned w = 0; w < threads_; ++w) {
      Worker& worker = workers_[w];
      Rng rng(seed_ * 1000003 + w);
      worker.sizes.resize(kSizeRing);
      for (auto& size : worker.sizes) size = static_cast<uint32_t>(rng.between(min_size_, max_size_));
      worker.blocks.resize(batch_);
    }
  }

  unsigned workers() const override { return threads_; }

  void run(unsigned w) override {
    Worker& worker = workers_[w];
    const uint32_t* sizes = worker.sizes.data();
    void** blocks = worker.blocks.data();
    uint64_t id = uint64_t{w} << 40;
    size_t ring = 0;
    uint64_t checked = 0;
    for (uint64_t b = 0; b < batches_per_worker_; ++b) {
      const uint64_t first_id = id;
      const size_t first_ring = ring;
      for (uint32_t i = 0; i < batch_; ++i) {
        const size_t size = sizes[ring];
        ring = (ring + 1) & (kSizeRing - 1);
        void* p = allocate(size);
        check_allocation(p, size, id);
        stamp_block(p, size, block_tag(seed_, id));
        blocks[i] = p;
        ++id;
      }
      for (uint32_t i = batch_; i-- > 0;) {
        const size_t size = sizes[(first_ring + i) & (kSizeRing - 1)];
        check_block(blocks[i], size, block_tag(seed_, first_id + i), first_id + i);
        deallocate(blocks[i]);
        ++checked;
      }
    }
    worker.ops = batches_per_worker_ * 2 * batch_;
    worker.checked = checked;
  }

  void drain(unsigned) override {}  // every batch is freed inside the timed loop

  uint64_t ops_done() const override {
    uint64_t total = 0;
    for (const Worker& w : workers_) total += w.ops;
    return total;
  }

  size_t max_block_size() const override { return max_size_; }

  uint64_t blocks_checked() const override {
    uint64_t total = 0;
    for (const Worker& w : workers_) total += w.checked;
    return total;
  }

 private:
  struct alignas(64) Worker {
    std::vector<uint32_t> sizes;
    std::vector<void*> blocks;
    uint64_t ops = 0;
    uint64_t checked = 0;
  };

  unsigned threads_;
  uint64_t seed_;
  uint32_t batch_;
  size_t min_size_;
  size_t max_size_;
  uint64_t batches_per_worker_;
  std::vector<Worker> workers_;
};

std::unique_ptr<Workload> make_mixed_lifo(const WorkloadConfig& config, std::string* error) {
  if (config.params.at("min_size") > config.params.at("max_size")) {
    *error = "--min_size (" + std::to_string(config.params.at("min_size")) + ") is above --max_size (" +
             std::to_string(config.params.at("max_size")) + ")";
    return nullptr;
  }
  return std::make_unique<MixedLifo>(config);
}

}  // namespace

extern const WorkloadDef kMixedLifo = {
    "mixed_lifo",
    "batches of mixed-size blocks, stamped, checked and freed in reverse order",
    100'000'000,
    {
        {"batch", 100, 1, 1 << 20, "blocks allocated per batch before the batch is freed"},
        {"min_size", 16, 1, 1 << 26, "smallest block size in bytes"},
        {"max_size", 1024, 1, 1 << 26, "largest block size in bytes"},
    },
    &make_mixed_lifo,
};

}  // namespace lab
