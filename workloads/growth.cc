// growth: a working set that rises to a high-water mark and falls back to
// nothing, in cycles, to show what each allocator gives back and when.
//
// Rise: until the worker holds its share of --high-water-mb, alternately
// allocate a small block (sizes in [min_size, max_size]) or grow one of
// --buffers buffers with realloc (first 1 KiB, then x1.5, up to
// --max-buffer-kb), keeping small blocks and buffers at about equal bytes.
// Fall: free the small blocks oldest first, a buffer after every equal
// share of them. Cycles repeat until --ops operations are done (at least
// one whole cycle). RSS is sampled every 10 ms by default and the start of
// each rise and fall is marked on that series.
#include <algorithm>
#include <vector>

#include "workloads/live_blocks.h"
#include "workloads/workload.h"

namespace lab {
namespace {

class Growth final : public Workload {
 public:
  explicit Growth(const WorkloadConfig& config)
      : Workload(config.threads),
        seed_(config.seed),
        high_water_(static_cast<uint64_t>(config.params.at("high_water_mb")) * 1024 * 1024 / config.threads),
        buffers_(static_cast<size_t>(config.params.at("buffers"))),
        max_buffer_(static_cast<size_t>(config.params.at("max_buffer_kb")) * 1024),
        min_size_(static_cast<size_t>(config.params.at("min_size"))),
        max_size_(static_cast<size_t>(config.params.at("max_size"))),
        ops_per_worker_(config.ops / config.threads),
        small_(workers()),
        buffer_(workers()) {}

  void prepare(unsigned w) override {
    // Room for the most small blocks a rise can make (half the high-water
    // mark in blocks of average size, twice over), so the timed region
    // never grows a std::vector through the allocator under test.
    const uint64_t average = (min_size_ + max_size_) / 2;
    small_[w].reserve(2 * (high_water_ / 2) / std::max<uint64_t>(1, average) + 16);
    // Written once now, so its pages (1.5 MiB at the defaults) are resident
    // in rss_start: the settle step compares RSS with it, and the workload's
    // own bookkeeping is not memory the allocator kept.
    small_[w].resize(small_[w].capacity());
    small_[w].clear();
    buffer_[w].assign(buffers_, LiveBlock{});
    if (w == 0) marks_.reserve();
  }

  void run(unsigned w) override {
    SizeRing sizes(seed_ * 4099 + w, min_size_, max_size_);
    uint64_t id = first_block_id(w);
    WorkerCounts& n = counts_[w];
    do {
      rise(w, sizes, id, n);
      fall(w, n);
    } while (n.allocations + n.reallocs + n.frees < ops_per_worker_);
    n.checked = n.frees;
  }

  void drain(unsigned) override {}  // every cycle ends with nothing live

  size_t max_block_size() const override { return std::max(max_size_, max_buffer_); }
  bool measures_memory_return() const override { return true; }
  std::vector<PhaseMark> phases() const override { return marks_.marks(); }

 private:
  void rise(unsigned w, SizeRing& sizes, uint64_t& id, WorkerCounts& n) {
    marks_.mark(w, "rise");
    std::vector<LiveBlock>& small = small_[w];
    std::vector<LiveBlock>& buffers = buffer_[w];
    uint64_t small_bytes = 0, buffer_bytes = 0;
    size_t next_buffer = 0, maxed = 0;  // buffers grown to max_buffer_
    while (small_bytes + buffer_bytes < high_water_) {
      const bool buffers_full = maxed == buffers.size();
      if ((small_bytes <= buffer_bytes || buffers_full) && small.size() < small.capacity()) {
        small.push_back(new_block(sizes.next(), seed_, id++));
        small_bytes += small.back().size;
        ++n.allocations;
        continue;
      }
      if (buffers_full) break;  // nothing left to grow and no room to record more blocks
      while (buffers[next_buffer].size >= max_buffer_) next_buffer = (next_buffer + 1) % buffers.size();
      LiveBlock& b = buffers[next_buffer];
      next_buffer = (next_buffer + 1) % buffers.size();
      const size_t size = b.p == nullptr ? 1024 : std::min(max_buffer_, b.size * 3 / 2);
      if (b.p == nullptr) {
        b = new_block(size, seed_, id++);
        ++n.allocations;
      } else {
        buffer_bytes -= b.size;
        realloc_block(b, size, seed_, id++);
        ++n.reallocs;
      }
      buffer_bytes += size;
      if (size >= max_buffer_) ++maxed;
    }
  }

  void fall(unsigned w, WorkerCounts& n) {
    marks_.mark(w, "fall");
    std::vector<LiveBlock>& small = small_[w];
    std::vector<LiveBlock>& buffers = buffer_[w];
    const size_t per_buffer = small.size() / (buffers.size() + 1) + 1;
    size_t next_buffer = 0;
    const auto release = [&](LiveBlock& b) {
      if (b.p == nullptr) return;
      release_block(b, seed_);
      b = LiveBlock{};
      ++n.frees;
    };
    for (size_t i = 0; i < small.size(); ++i) {
      release(small[i]);
      if ((i + 1) % per_buffer == 0 && next_buffer < buffers.size()) release(buffers[next_buffer++]);
    }
    for (; next_buffer < buffers.size(); ++next_buffer) release(buffers[next_buffer]);
    small.clear();  // keeps its capacity: no allocation in the next rise
  }

  uint64_t seed_;
  uint64_t high_water_;
  size_t buffers_;
  size_t max_buffer_;
  size_t min_size_;
  size_t max_size_;
  uint64_t ops_per_worker_;
  std::vector<std::vector<LiveBlock>> small_;
  std::vector<std::vector<LiveBlock>> buffer_;
  PhaseLog marks_;  // reserved in prepare
};

std::unique_ptr<Workload> make_growth(const WorkloadConfig& config, std::string* error) {
  if (!size_range_ok(config, error)) return nullptr;
  return std::make_unique<Growth>(config);
}

}  // namespace

extern const WorkloadDef kGrowth = {
    "growth",
    "a working set rises to a high-water mark (small blocks and realloc-grown buffers), then falls; RSS over time",
    500'000,
    10,
    {
        {"high_water_mb", 64, 1, 1 << 16, "live bytes at the top of each rise, in MiB, shared by the workers"},
        {"buffers", 32, 1, 1 << 16, "realloc-grown buffers per worker"},
        {"max_buffer_kb", 2048, 1, 1 << 22, "largest a buffer grows, in KiB"},
        {"min_size", 16, 1, 1 << 26, "smallest small-block size in bytes"},
        {"max_size", 1024, 1, 1 << 26, "largest small-block size in bytes"},
    },
    &make_growth,
};

}  // namespace lab
