// soak: a service's long life compressed into minutes, for fragmentation
// (issue 14). Each worker runs a SoakWorker (workloads/soak_model.h: the
// schedule and its exact live-byte count) through the allocator under test,
// one tick every --tick-ms of wall time: a worker ahead of the schedule
// sleeps until its next tick, as a service waits for requests; one behind
// runs on without sleeping (then `seconds` exceeds the nominal length, and
// the allocator could not keep the pace). So every allocator runs the same
// requests at the same times, and a minute means a minute for all of them.
//
// Its length is --minutes (--param=soak.minutes=N in compare), not --ops;
// --smoke runs one second. RSS is sampled every 100 ms by default, each
// sample with the bytes the workers hold (rss_series.live_bytes), from
// which the summary's fragmentation ratios come (results/SCHEMA.md).
#include <atomic>
#include <chrono>
#include <memory>
#include <thread>
#include <vector>

#include "workloads/live_blocks.h"
#include "workloads/soak_model.h"
#include "workloads/workload.h"

namespace lab {
namespace {

// The driver's blocks: stamped on allocation, checked before their free.
struct DriverBlocks {
  uint64_t seed;
  LiveBlock make(size_t size, uint64_t id) const { return new_block(size, seed, id); }
  void release(const LiveBlock& b) const { release_block(b, seed); }
};

constexpr uint64_t kSmokeTicks = 100;

class Soak : public Workload {
 public:
  explicit Soak(const WorkloadConfig& config)
      : Workload(config.threads), tick_ms_(config.params.at("tick_ms")), published_(config.threads) {
    SoakShape shape;
    shape.ticks = config.smoke ? kSmokeTicks
                               : static_cast<uint64_t>(config.params.at("minutes")) * 60'000 /
                                     static_cast<uint64_t>(tick_ms_);
    shape.requests_per_tick = static_cast<uint32_t>(config.params.at("requests_per_tick"));
    shape.objects_per_request = static_cast<uint32_t>(config.params.at("objects_per_request"));
    shape.in_flight = static_cast<uint32_t>(config.params.at("in_flight"));
    shape.population = static_cast<uint32_t>(config.params.at("population"));
    shape.turnovers = static_cast<uint32_t>(config.params.at("turnovers"));
    shape.burst_every = static_cast<uint32_t>(config.params.at("burst_every_ms") / tick_ms_);
    shape.burst_hold = static_cast<uint32_t>(config.params.at("burst_hold_ms") / tick_ms_);
    shape.burst_bytes = static_cast<uint64_t>(config.params.at("burst_kb")) << 10;
    ticks_ = shape.ticks;
    for (unsigned w = 0; w < config.threads; ++w)
      workers_.push_back(std::make_unique<SoakWorker<DriverBlocks>>(shape, config.seed * 7919 + w, first_block_id(w),
                                                                    DriverBlocks{config.seed}));
  }

  void prepare(unsigned w) override {
    workers_[w]->prepare();
    publish(w);
    counts_[w].prepare_allocations = workers_[w]->allocations();
  }

  void run(unsigned w) override {
    SoakWorker<DriverBlocks>& s = *workers_[w];
    const uint64_t before_allocs = s.allocations(), before_frees = s.frees();
    const auto start = std::chrono::steady_clock::now();
    for (uint64_t t = 0; t < ticks_; ++t) {
      s.tick(t);
      publish(w);
      const auto next = start + std::chrono::milliseconds(tick_ms_ * static_cast<int64_t>(t + 1));
      if (std::chrono::steady_clock::now() < next) std::this_thread::sleep_until(next);
    }
    counts_[w].allocations = s.allocations() - before_allocs;
    counts_[w].frees = s.frees() - before_frees;
    counts_[w].checked = counts_[w].frees;
  }

  void drain(unsigned w) override {
    const uint64_t before = workers_[w]->frees();
    workers_[w]->drain();
    publish(w);
    counts_[w].drain_frees = workers_[w]->frees() - before;
    counts_[w].checked += counts_[w].drain_frees;
  }

  size_t max_block_size() const override { return size_t{1} << 17; }  // 2^(10+7): the burst band's top
  bool measures_memory_return() const override { return true; }
  std::optional<int64_t> live_bytes() const override {
    int64_t sum = 0;
    for (const Published& p : published_) sum += static_cast<int64_t>(p.bytes.load(std::memory_order_relaxed));
    return sum;
  }

 private:
  struct alignas(64) Published {
    std::atomic<uint64_t> bytes{0};
  };
  void publish(unsigned w) { published_[w].bytes.store(workers_[w]->live_bytes(), std::memory_order_relaxed); }

  int64_t tick_ms_;
  uint64_t ticks_;
  std::vector<std::unique_ptr<SoakWorker<DriverBlocks>>> workers_;
  std::vector<Published> published_;
};

std::unique_ptr<Workload> make_soak(const WorkloadConfig& config, std::string* error) {
  const int64_t tick = config.params.at("tick_ms");
  for (const char* name : {"burst_every_ms", "burst_hold_ms"}) {
    if (config.params.at(name) % tick != 0) {
      *error = "--" + std::string(name) + " (" + std::to_string(config.params.at(name)) +
               ") must be a multiple of --tick_ms (" + std::to_string(tick) + ")";
      return nullptr;
    }
  }
  if (config.params.at("burst_hold_ms") >= config.params.at("burst_every_ms")) {
    *error = "--burst_hold_ms (" + std::to_string(config.params.at("burst_hold_ms")) +
             ") must be below --burst_every_ms (" + std::to_string(config.params.at("burst_every_ms")) + ")";
    return nullptr;
  }
  return std::make_unique<Soak>(config);
}

}  // namespace

extern const WorkloadDef kSoak = {
    "soak",
    "a service's life compressed into minutes: a long-lived population turning over, short-lived requests, "
    "bursts, sizes drifting over the run; paced by the clock; RSS and live bytes sampled (fragmentation)",
    0,
    100,
    {
        {"minutes", 1, 1, 24 * 60, "length of the run in minutes of wall time (--smoke: one second)"},
        {"tick_ms", 10, 1, 1000, "wall time per tick of the schedule"},
        {"requests_per_tick", 200, 1, 1 << 20, "requests each worker serves per tick"},
        {"objects_per_request", 8, 1, 1 << 12, "short-lived blocks per request"},
        {"in_flight", 64, 1, 1 << 16, "requests each worker holds open at once"},
        {"population", 8000, 1, 1 << 24, "long-lived blocks per worker"},
        {"turnovers", 4, 0, 1 << 20, "times the long-lived population is replaced over the run"},
        {"burst_every_ms", 5000, 1, 1 << 30, "time from one burst to the next"},
        {"burst_hold_ms", 500, 1, 1 << 30, "time a burst is held"},
        {"burst_kb", 8192, 1, 1 << 24, "KiB each worker allocates in a burst"},
    },
    &make_soak,
    /*length_in_minutes=*/true,
};

}  // namespace lab
