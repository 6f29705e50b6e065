// mid_churn: blocks of 32 KiB to 2 MiB (the range a program's buffers,
// arrays and strings grow into, between the small-object classes and huge
// mappings) allocated, freed and reallocated at random while the working
// set rises and falls.
//
// Sizes are log-uniform in [min_size, max_size]: every doubling gets the
// same share of requests, so 32-64 KiB blocks are as common as 1-2 MiB ones
// and most blocks are small (median 256 KiB, mean 485 KiB at the defaults),
// as in real programs, where block counts fall with size; uniform sizes
// would make nearly every block larger than 1 MiB.
//
// Per worker (each its own blocks, a 1/threads share of the bytes): set-up
// fills the working set to --low-water-mb (untimed). Each timed step then,
// with probability --realloc-pct, reallocates a random live block to a
// fresh size (as likely to shrink as to grow it); otherwise it allocates a
// block when the live bytes are below the target and frees a random live
// block when they are not. The target moves linearly from the low water
// to --high-water-mb and back, --cycles times over the run, so frees and
// allocations interleave at every level while the set rises and falls.
// Besides its stamps, every block carries a mark in each of its pages
// (validate.h), written when it is allocated or reallocated and checked
// before it is freed or reallocated: a program uses the buffers it asks
// for, so their pages are resident and RSS means what it does for a
// program. RSS is sampled every 10 ms by default, each rise and fall marked.
#include <algorithm>
#include <vector>

#include "workloads/live_blocks.h"
#include "workloads/support/rng.h"
#include "workloads/workload.h"

namespace lab {
namespace {

// One worker's blocks, on cache lines of its own.
//   live_bytes == sum of live[i].size
//   live.size() <= high_water / min_size + 1 (a block is added only below the high water)
struct alignas(64) ChurnSet {
  ChurnSet(uint64_t seed, size_t min_size, size_t max_size)
      : sizes(seed, min_size, max_size, SizeSpread::kLogUniform) {}
  SizeRing sizes;
  std::vector<LiveBlock> live;  // unordered: a free moves the last block into the hole
  uint64_t live_bytes = 0;
  uint64_t next_id = 0;
};

class MidChurn final : public Workload {
 public:
  explicit MidChurn(const WorkloadConfig& config)
      : Workload(config.threads),
        seed_(config.seed),
        high_water_(mib(config.params.at("high_water_mb")) / config.threads),
        low_water_(mib(config.params.at("low_water_mb")) / config.threads),
        cycles_(static_cast<uint64_t>(config.params.at("cycles"))),
        realloc_pct_(static_cast<uint64_t>(config.params.at("realloc_pct"))),
        min_size_(static_cast<size_t>(config.params.at("min_size"))),
        max_size_(static_cast<size_t>(config.params.at("max_size"))),
        steps_per_worker_(std::max<uint64_t>(1, config.ops / config.threads)) {
    sets_.reserve(workers());
    for (unsigned w = 0; w < workers(); ++w) sets_.emplace_back(seed_ * 7057 + w, min_size_, max_size_);
  }

  void prepare(unsigned w) override {
    ChurnSet& set = sets_[w];
    // Room for every block the run can hold, so the timed region never grows the vector.
    set.live.reserve(high_water_ / min_size_ + 2);
    set.next_id = first_block_id(w);
    while (set.live_bytes < low_water_) add(set);
    counts_[w].prepare_allocations = set.live.size();
    if (w == 0) marks_.reserve();
  }

  void run(unsigned w) override {
    ChurnSet& set = sets_[w];
    Rng rng(seed_ ^ (0x5DEECE66Dull * (w + 1)));
    WorkerCounts& n = counts_[w];
    // Steps per half cycle, and how far the target moves each step.
    const uint64_t half = std::max<uint64_t>(1, steps_per_worker_ / (2 * cycles_));
    const double slope = static_cast<double>(high_water_ - low_water_) / static_cast<double>(half);
    bool rising = true;
    uint64_t in_half = 0;
    marks_.mark(w, "rise");
    for (uint64_t step = 0; step < steps_per_worker_; ++step, ++in_half) {
      if (in_half == half) {
        rising = !rising;
        in_half = 0;
        marks_.mark(w, rising ? "rise" : "fall");
      }
      const double moved = slope * static_cast<double>(in_half);
      const double target = rising ? static_cast<double>(low_water_) + moved : static_cast<double>(high_water_) - moved;
      if (!set.live.empty() && rng.below(100) < realloc_pct_) {
        resize(set, rng.below(set.live.size()));
        ++n.reallocs;
      } else if (set.live.empty() || static_cast<double>(set.live_bytes) < target) {
        add(set);
        ++n.allocations;
      } else {
        remove(set, rng.below(set.live.size()));
        ++n.frees;
      }
    }
    n.checked = n.frees;
  }

  void drain(unsigned w) override {
    for (const LiveBlock& b : sets_[w].live) check_pages(b);
    counts_[w].drain_frees = drain_blocks(sets_[w].live, seed_);
    counts_[w].checked += counts_[w].drain_frees;
    sets_[w].live_bytes = 0;
  }

  size_t max_block_size() const override { return max_size_; }
  // Its peak RSS against the peers is one of issue 12's targets, and its
  // working set falls to the low water each cycle and to nothing at the
  // drain: what goes back to the OS is half the point.
  bool measures_memory_return() const override { return true; }
  std::vector<PhaseMark> phases() const override { return marks_.marks(); }

 private:
  static uint64_t mib(int64_t n) { return static_cast<uint64_t>(n) << 20; }

  uint64_t tag(const LiveBlock& b) const { return block_tag(seed_, b.id); }

  void check_pages(const LiveBlock& b) const {
    if (!pages_intact(b.p, b.size, tag(b))) [[unlikely]]
      fail_run("block %llu (%zu bytes at %p) was corrupted while live: a page mark changed",
               static_cast<unsigned long long>(b.id), static_cast<size_t>(b.size), b.p);
  }

  void add(ChurnSet& set) {
    const LiveBlock& b = set.live.emplace_back(new_block(set.sizes.next(), seed_, set.next_id++));
    mark_pages(b.p, b.size, tag(b));
    set.live_bytes += b.size;
  }

  void remove(ChurnSet& set, size_t i) {
    LiveBlock& b = set.live[i];
    check_pages(b);
    set.live_bytes -= b.size;
    release_block(b, seed_);
    b = set.live.back();
    set.live.pop_back();
  }

  // realloc to a fresh size: the marks of the bytes it must keep survive.
  void resize(ChurnSet& set, size_t i) {
    LiveBlock& b = set.live[i];
    check_pages(b);
    const LiveBlock old = b;
    realloc_block(b, set.sizes.next(), seed_, set.next_id++);
    if (!pages_intact(b.p, std::min(old.size, b.size), tag(old))) [[unlikely]]
      fail_run("realloc of block %llu from %zu to %zu bytes lost its contents",
               static_cast<unsigned long long>(old.id), static_cast<size_t>(old.size), static_cast<size_t>(b.size));
    mark_pages(b.p, b.size, tag(b));
    set.live_bytes += b.size - old.size;
  }

  uint64_t seed_;
  uint64_t high_water_;  // per worker
  uint64_t low_water_;   // per worker
  uint64_t cycles_;
  uint64_t realloc_pct_;
  size_t min_size_;
  size_t max_size_;
  uint64_t steps_per_worker_;
  std::vector<ChurnSet> sets_;
  PhaseLog marks_;  // reserved in prepare
};

std::unique_ptr<Workload> make_mid_churn(const WorkloadConfig& config, std::string* error) {
  if (!size_range_ok(config, error)) return nullptr;
  const int64_t low = config.params.at("low_water_mb"), high = config.params.at("high_water_mb");
  if (low >= high) {
    *error = "--low_water_mb (" + std::to_string(low) + ") must be below --high_water_mb (" + std::to_string(high) +
             ")";
    return nullptr;
  }
  return std::make_unique<MidChurn>(config);
}

}  // namespace

extern const WorkloadDef kMidChurn = {
    "mid_churn",
    "blocks of 32 KiB to 2 MiB (log-uniform) allocated, freed and reallocated at random while the working set "
    "rises and falls; RSS over time",
    400'000,
    10,
    {
        {"high_water_mb", 64, 1, 1 << 16, "live bytes at the top of each rise, in MiB, shared by the workers"},
        {"low_water_mb", 8, 0, 1 << 16, "live bytes at the start and at the bottom of each fall, in MiB, shared"},
        {"cycles", 4, 1, 1 << 20, "rise-and-fall cycles over the run"},
        {"realloc_pct", 20, 0, 100, "percent of steps that realloc a random live block to a new size"},
        {"min_size", 32 << 10, 1, 1 << 30, "smallest block size in bytes"},
        {"max_size", 2 << 20, 1, 1 << 30, "largest block size in bytes"},
    },
    &make_mid_churn,
};

}  // namespace lab
