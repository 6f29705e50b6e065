// producer_consumer: P producer threads allocate blocks and pass them
// through bounded queues to C consumer threads, which check and free them.
// Every free is a remote free (the consumer never allocated the block).
//
// One SPSC queue per (producer, consumer) pair; producer p sends its i-th
// block to consumer i mod C, consumer c visits its P queues round-robin
// until it has freed every block sent to it. --threads=T means T producers
// and T consumers unless --producers / --consumers say otherwise. One
// operation per allocation and per free, so ops = 2 x blocks.
#include <algorithm>
#include <memory>
#include <vector>

#include "workloads/live_blocks.h"
#include "workloads/support/spsc_queue.h"
#include "workloads/workload.h"

namespace lab {
namespace {

class ProducerConsumer final : public Workload {
 public:
  ProducerConsumer(const WorkloadConfig& config, unsigned producers, unsigned consumers)
      : Workload(producers + consumers),
        seed_(config.seed),
        producers_(producers),
        consumers_(consumers),
        min_size_(static_cast<size_t>(config.params.at("min_size"))),
        max_size_(static_cast<size_t>(config.params.at("max_size"))),
        blocks_per_producer_(std::max<uint64_t>(1, config.ops / 2 / producers)) {
    for (unsigned i = 0; i < producers * consumers; ++i)
      queues_.push_back(std::make_unique<SpscQueue>(static_cast<size_t>(config.params.at("depth"))));
  }

  void run(unsigned w) override {
    if (w < producers_) produce(w);
    else consume(w - producers_, w);
  }

  void drain(unsigned) override {}  // consumers free every block inside the timed region

  size_t max_block_size() const override { return max_size_; }

 private:
  SpscQueue& queue(unsigned producer, unsigned consumer) { return *queues_[producer * consumers_ + consumer]; }

  void produce(unsigned p) {
    SizeRing sizes(seed_ * 31337 + p, min_size_, max_size_);
    uint64_t id = first_block_id(p);
    Backoff backoff;
    const uint64_t seed = seed_;  // a local: the allocator's calls cannot change it
    sampled_steps(id, blocks_per_producer_, [&](uint64_t i, auto timing) __attribute__((always_inline)) {
      const LiveBlock block = new_block<timing()>(sizes.next(), seed, id + i);
      SpscQueue& q = queue(p, static_cast<unsigned>(i % consumers_));
      while (!q.try_push(block)) backoff.wait();
      backoff.reset();
    });
    counts_[p].allocations = blocks_per_producer_;
  }

  // Blocks producer p sends to consumer c: those with index i = c (mod C).
  uint64_t expected_from(unsigned c) const {
    return blocks_per_producer_ / consumers_ + (c < blocks_per_producer_ % consumers_ ? 1 : 0);
  }

  void consume(unsigned c, unsigned w) {
    const uint64_t expected = expected_from(c) * producers_;
    uint64_t freed = 0;
    Backoff backoff;
    const uint64_t seed = seed_;  // a local: the allocator's calls cannot change it
    while (freed < expected) {
      bool any = false;
      for (unsigned p = 0; p < producers_; ++p) {
        // The blocks ready in the queue, as a counted loop numbered by pops
        // from it: with one consumer, pop j is block j of the producer, so
        // the frees timed are those of the blocks whose mallocs were.
        SpscQueue& q = queue(p, c);
        const uint64_t ready = q.ready();
        sampled_steps(q.popped(), ready, [&](uint64_t, auto timing) __attribute__((always_inline)) {
          release_block<timing()>(q.pop_ready(), seed);
        });
        freed += ready;
        any |= ready != 0;
      }
      if (any) backoff.reset();
      else backoff.wait();
    }
    counts_[w].frees = freed;
    counts_[w].checked = freed;
  }

  uint64_t seed_;
  unsigned producers_;
  unsigned consumers_;
  size_t min_size_;
  size_t max_size_;
  uint64_t blocks_per_producer_;
  std::vector<std::unique_ptr<SpscQueue>> queues_;
};

std::unique_ptr<Workload> make_producer_consumer(const WorkloadConfig& config, std::string* error) {
  if (!size_range_ok(config, error)) return nullptr;
  const auto side = [&](const char* name) {
    const int64_t n = config.params.at(name);
    return static_cast<unsigned>(n != 0 ? n : config.threads);
  };
  return std::make_unique<ProducerConsumer>(config, side("producers"), side("consumers"));
}

}  // namespace

extern const WorkloadDef kProducerConsumer = {
    "producer_consumer",
    "producers allocate, consumers free through bounded queues: every free is a remote free",
    5'000'000,
    0,
    {
        {"producers", 0, 0, 512, "producer threads (0 = --threads)"},
        {"consumers", 0, 0, 512, "consumer threads (0 = --threads)"},
        {"depth", 1024, 1, 1 << 20, "capacity of each producer-to-consumer queue, in blocks"},
        {"min_size", 16, 1, 1 << 26, "smallest block size in bytes"},
        {"max_size", 1024, 1, 1 << 26, "largest block size in bytes"},
    },
    &make_producer_consumer,
};

}  // namespace lab
