// HAKMEM_LEARN's modes in a whole process, per variant (process_learner.h).
// Built once per mode and variant (variants/BUILD): LEARN_MODE is the
// mode's number, and the environment sets HAKMEM_LEARN to its name.
//   frozen (3): the knobs of testdata/frozen_knobs.txt are in force,
//               exactly; a file that cannot be read is reported
//   on (2):     the learner's trace, its knob file at exit, and published
//               knobs changing under threads that allocate (ThreadSanitizer
//               runs this in CI)
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "allocator/backend/decay.h"
#include "allocator/backend/superslab_manager.h"
#include "allocator/config/tunables.h"
#include "allocator/learn/knob_file.h"
#include "allocator/learner/process_learner.h"
#include "allocator/pal/small_file.h"
#include "hakmem/variant.h"

namespace hakmem {
namespace {

using A = ThisVariant;

// Enough slow-path events (mid and L25 blocks) for the purge check, which
// starts the learner, to run many times.
void churn(int rounds) {
  std::vector<void*> blocks;
  for (int r = 0; r < rounds; ++r) {
    for (size_t size : {24, 700, 4096, 20'000, 70'000}) {
      void* p = A::malloc(size);
      ASSERT_NE(p, nullptr);
      memset(p, 0x5a, size);
      blocks.push_back(p);
    }
    if (blocks.size() > 200) {
      for (void* p : blocks) A::free(p);
      blocks.clear();
    }
  }
  for (void* p : blocks) A::free(p);
}

learn::Knobs file_knobs(const char* path) {
  char text[learn::kKnobFileMax];
  EXPECT_GT(read_small_file(path, text, sizeof text), 0) << path;
  learn::Knobs k;
  char why[160] = "";
  EXPECT_TRUE(learn::parse_knobs(text, learn::bounds_from_options(), &k, why, sizeof why)) << why;
  return k;
}

#if LEARN_MODE == 3

TEST(LearnFrozen, TheFilesKnobsAreInForceExactly) {
  churn(100);
  const LearnReport report = learn_report();
  const char* path = getenv("HAKMEM_LEARN_FILE");
  ASSERT_NE(path, nullptr);
  if (std::string(path).find("missing") != std::string::npos) {
    // A file that cannot be read: reported, and the options' knobs rule.
    EXPECT_STREQ(report.mode, "frozen");
    ASSERT_NE(report.error, nullptr);
    EXPECT_EQ(std::string(report.error), std::string("HAKMEM_LEARN_FILE=") + path + ": No such file or directory");
    EXPECT_EQ(Decay::delay_ms(), 250u) << "HAKMEM_PURGE_DELAY_MS's default";
    return;
  }
  EXPECT_STREQ(report.mode, "frozen");
  EXPECT_EQ(report.error, nullptr);
  EXPECT_EQ(report.interval_ms, 20u);
  const learn::Knobs want = file_knobs(path);
  EXPECT_EQ(process_learner_state().knobs(), want);
  // What every pool reads now.
  EXPECT_EQ(Decay::delay_ms(), 120u);
  EXPECT_EQ(tunables::mid_cache_bytes(), 512u * 1024);
  EXPECT_EQ(tunables::l25_cache_bytes(), 256u * 1024);
  EXPECT_EQ(tunables::large_cache_bytes(), int64_t{64} << 20);
  for (unsigned c = 0; c < kTinyClasses; ++c) {
    EXPECT_EQ(tunables::tiny_cache(c, 0), want.tiny_cache[c]) << c;
    EXPECT_EQ(tunables::tiny_refill(c, 0), want.tiny_refill[c]) << c;
  }
  for (unsigned c = 0; c < kSlabClasses; ++c)
    EXPECT_EQ(global_superslabs().superslab_bytes_for(c), size_t{want.superslab_kib[c / learn::kClassesPerGroup]} * 1024)
        << c;
  // Frozen knobs stay: the learner's passes change nothing.
  std::this_thread::sleep_for(std::chrono::milliseconds(200));
  churn(100);
  EXPECT_GT(process_learner().passes(), 0);
  EXPECT_EQ(learn_report().decisions, report.decisions) << "only the start entries";
  process_learner().stop();
  EXPECT_EQ(process_learner_state().knobs(), want);
}

#elif LEARN_MODE == 2

TEST(LearnOn, TheTraceStartsWithEveryKnobAndEveryValueStaysInItsBounds) {
  churn(2000);
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  const LearnReport report = learn_report();
  EXPECT_STREQ(report.mode, "on");
  EXPECT_EQ(report.interval_ms, 5u);
  EXPECT_GT(report.passes, 5u);
  EXPECT_GT(report.cpu_ns, 0u);
  const DecisionTrace& trace = process_learner_state().trace();
  const size_t starts = 2 * kTinyClasses + 4 + learn::kSuperSlabGroups;
  ASSERT_GE(trace.size(), starts);
  for (size_t i = 0; i < starts; ++i) EXPECT_STREQ(trace.at(i).signal, "start");
  const learn::KnobBounds b = learn::bounds_from_options();
  for (size_t i = starts; i < trace.size(); ++i) {
    const learn::Decision& d = trace.at(i);
    EXPECT_NE(d.old_value, d.new_value);
    EXPECT_GE(d.t_ms, trace.at(0).t_ms);
    if (d.knob == learn::Knob::kPurgeDelayMs) {
      EXPECT_GE(d.new_value, b.purge_delay_min_ms);
      EXPECT_LE(d.new_value, b.purge_delay_max_ms);
    }
    if (d.knob == learn::Knob::kTinyCache) {
      EXPECT_GE(d.new_value, b.tiny_cache_min);
      EXPECT_LE(d.new_value, b.tiny_cache_max);
    }
  }
}

// A forked child that exits writes the knobs in force to HAKMEM_LEARN_FILE,
// which a frozen run reads (knob_file.h); with HAKMEM_LEARN_AFTER_FORK=0
// (this test's environment) it runs without a learner thread.
TEST(LearnOn, ExitWritesTheKnobsToTheLearnFile) {
  churn(200);
  const std::string path = std::string(getenv("TEST_TMPDIR")) + "/learned.txt";
  unlink(path.c_str());
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    churn(200);
    if (process_learner().running()) _exit(3);
    setenv("HAKMEM_LEARN_FILE", path.c_str(), 1);
    exit(0);  // atexit: the learner stops and writes its knobs
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
  const learn::Knobs written = file_knobs(path.c_str());
  EXPECT_TRUE(learn::within(written, learn::bounds_from_options()));
}

// Knobs published while threads allocate, free and move blocks between
// them: every block keeps its contents, and every cache takes the new
// sizes on its slow paths (ThreadSanitizer: no race).
TEST(LearnOn, KnobsChangeSafelyUnderConcurrentAllocation) {
  std::atomic<bool> stop{false};
  std::atomic<int> bad{0};
  auto worker = [&](unsigned seed) {
    std::mt19937 rng(seed);
    std::vector<std::pair<unsigned char*, size_t>> live;
    while (!stop.load(std::memory_order_relaxed)) {
      if (live.size() < 300 && rng() % 3 != 0) {
        const size_t sizes[] = {16, 48, 256, 1000, 3000, 30'000, 100'000};
        const size_t size = sizes[rng() % 7];
        auto* p = static_cast<unsigned char*>(A::malloc(size));
        if (p == nullptr) {
          bad.fetch_add(1);
          continue;
        }
        memset(p, static_cast<int>(size & 0xff), size);
        live.push_back({p, size});
      } else if (!live.empty()) {
        const size_t i = rng() % live.size();
        auto [p, size] = live[i];
        if (p[0] != static_cast<unsigned char>(size & 0xff) || p[size - 1] != p[0]) bad.fetch_add(1);
        A::free(p);
        live[i] = live.back();
        live.pop_back();
      }
    }
    for (auto [p, size] : live) A::free(p);
  };
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < 3; ++t) threads.emplace_back(worker, t + 1);
  const learn::KnobBounds b = learn::bounds_from_options();
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    learn::Knobs k = learn::default_knobs(b, 64, 64);
    for (unsigned c = 0; c < kTinyClasses; ++c) {
      k.tiny_cache[c] = b.tiny_cache_min + rng() % 40;
      k.tiny_refill[c] = 1 + rng() % k.tiny_cache[c];
    }
    k.mid_cache_kib = b.mid_cache_min_kib + rng() % 2048;
    k.l25_cache_kib = b.l25_cache_min_kib + rng() % 2048;
    k.purge_delay_ms = b.purge_delay_min_ms + rng() % 300;
    for (uint32_t& kib : k.superslab_kib) kib = rng() % 2 == 0 ? 1024 : 2048;
    ASSERT_TRUE(learn::within(k, b));
    publish_to_process(k);
    std::this_thread::sleep_for(std::chrono::microseconds(500));
  }
  stop.store(true);
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(bad.load(), 0);
  tunables::reset();
}

#endif

}  // namespace
}  // namespace hakmem
