// The override layer on allocators of its own: glibc's extensions on a
// small hakmem allocator, the new_handler loop on allocators that fail on
// demand, and the HAKMEM_STATS summary. (The libraries themselves are
// tested in real processes in variants/preload.)
#include <gtest/gtest.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "allocator/api/allocator.h"
#include "allocator/frontend/free_list_layer.h"
#include "allocator/override/glibc_ops.h"
#include "allocator/override/introspection.h"
#include "allocator/override/operator_new.h"

namespace hakmem {
namespace {

struct TestFront : FreeListLayer<8, 16> {
  static constexpr std::string_view kName = "override_test";
};
using A = Allocator<TestFront>;

bool aligned(const void* p, size_t align) { return reinterpret_cast<uintptr_t>(p) % align == 0; }

TEST(GlibcOps, MemalignUpTo16IsMallocAndRoundsOtherAlignmentsUp) {
  for (size_t align : {size_t{0}, size_t{1}, size_t{3}, size_t{8}, size_t{16}}) {
    void* p = memalign_of<A>(align, 100);
    ASSERT_NE(p, nullptr) << align;
    EXPECT_EQ(A::usable_size(p), A::usable_size(A::malloc(100))) << "plain malloc for " << align;
    A::free(p);
  }
  const std::pair<size_t, size_t> rounded[] = {{24, 32}, {48, 64}, {100, 128}, {5000, 8192}, {3u << 20, 4u << 20}};
  for (auto [align, expected] : rounded) {
    void* p = memalign_of<A>(align, 10);
    ASSERT_NE(p, nullptr) << align;
    EXPECT_TRUE(aligned(p, expected)) << align << " rounds up to " << expected;
    A::free(p);
  }
}

TEST(GlibcOps, MemalignBeyondAnyPowerOfTwoIsEinvalAndTooLargeIsEnomem) {
  for (size_t align : {SIZE_MAX / 2 + 2, SIZE_MAX}) {
    errno = 0;
    EXPECT_EQ(memalign_of<A>(align, 10), nullptr) << align;
    EXPECT_EQ(errno, EINVAL) << align;
  }
  errno = 0;
  EXPECT_EQ(memalign_of<A>(SIZE_MAX / 2 + 1, 10), nullptr) << "a power of two, too large to map";
  EXPECT_EQ(errno, ENOMEM);
  errno = 0;
  EXPECT_EQ(memalign_of<A>(64, SIZE_MAX), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(GlibcOps, PosixMemalignReturnsItsErrorAndTouchesNothingElse) {
  void* const sentinel = reinterpret_cast<void*>(0x1234);
  for (size_t align : {size_t{0}, size_t{1}, size_t{4}, size_t{12}, size_t{24}, size_t{48}, SIZE_MAX}) {
    void* p = sentinel;
    errno = 77;
    EXPECT_EQ(posix_memalign_of<A>(&p, align, 100), EINVAL) << align;
    EXPECT_EQ(p, sentinel) << align;
    EXPECT_EQ(errno, 77) << align;
  }
  void* p = sentinel;
  errno = 77;
  EXPECT_EQ(posix_memalign_of<A>(&p, 64, SIZE_MAX), ENOMEM);
  EXPECT_EQ(p, sentinel);
  EXPECT_EQ(errno, ENOMEM) << "as glibc 2.36 leaves it";
  for (size_t align = sizeof(void*); align <= (size_t{4} << 20); align *= 2) {
    ASSERT_EQ(posix_memalign_of<A>(&p, align, 1000), 0) << align;
    EXPECT_TRUE(aligned(p, align)) << align;
    A::free(p);
  }
}

TEST(GlibcOps, VallocAlignsToThePageAndPvallocRoundsTheSizeToPages) {
  for (size_t size : {size_t{0}, size_t{1}, size_t{4096}, size_t{5000}, size_t{100000}}) {
    void* v = valloc_of<A>(size);
    void* pv = pvalloc_of<A>(size);
    ASSERT_NE(v, nullptr);
    ASSERT_NE(pv, nullptr);
    EXPECT_TRUE(aligned(v, kPageSize)) << size;
    EXPECT_TRUE(aligned(pv, kPageSize)) << size;
    const size_t pages = size == 0 ? kPageSize : align_up(size, kPageSize);
    EXPECT_GE(A::usable_size(pv), pages) << size;
    A::free(v);
    A::free(pv);
  }
  errno = 0;
  EXPECT_EQ(pvalloc_of<A>(SIZE_MAX - 100), nullptr);
  EXPECT_EQ(errno, ENOMEM);
}

TEST(GlibcOps, ReallocarrayOverflowIsEnomemAndLeavesTheBlock) {
  auto* p = static_cast<char*>(A::malloc(16));
  strcpy(p, "kept");
  errno = 0;
  EXPECT_EQ(reallocarray_of<A>(p, SIZE_MAX / 2, 3), nullptr);
  EXPECT_EQ(errno, ENOMEM);
  EXPECT_STREQ(p, "kept");
  p = static_cast<char*>(reallocarray_of<A>(p, 100, 30));
  ASSERT_NE(p, nullptr);
  EXPECT_STREQ(p, "kept");
  EXPECT_GE(A::usable_size(p), 3000u);
  A::free(p);
}

// An allocator that fails its first `failures` requests, then serves them
// from the test allocator.
struct Flaky {
  static inline int failures = 0;
  static inline int calls = 0;
  static void* malloc(size_t size) { return ++calls <= failures ? nullptr : A::malloc(size); }
  static void* aligned_alloc(size_t align, size_t size) {
    return ++calls <= failures ? nullptr : A::aligned_alloc(align, size);
  }
  static void reset(int fail) {
    failures = fail;
    calls = 0;
  }
};

int g_handler_calls = 0;
int g_handler_budget = 0;  // calls before the handler uninstalls itself

void counting_handler() {
  ++g_handler_calls;
  if (g_handler_calls >= g_handler_budget) std::set_new_handler(nullptr);
}

void throwing_handler() {
  ++g_handler_calls;
  throw std::bad_alloc();
}

class NewHandler : public testing::Test {
 protected:
  void SetUp() override { g_handler_calls = 0; }
  void TearDown() override { std::set_new_handler(nullptr); }
};

TEST_F(NewHandler, NewRetriesWhileAHandlerIsInstalledThenThrows) {
  Flaky::reset(1000);
  g_handler_budget = 3;
  std::set_new_handler(counting_handler);
  EXPECT_THROW(new_of<Flaky>(64), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 3);
  EXPECT_EQ(Flaky::calls, 4) << "one attempt, then one after each handler call";
  Flaky::reset(1000);
  g_handler_calls = 0;
  std::set_new_handler(counting_handler);
  EXPECT_THROW(new_aligned_of<Flaky>(64, std::align_val_t{256}), std::bad_alloc);
  EXPECT_EQ(g_handler_calls, 3);
}

TEST_F(NewHandler, NewSucceedsOnceTheHandlerMadeRoom) {
  Flaky::reset(2);
  g_handler_budget = 100;
  std::set_new_handler(counting_handler);
  void* p = new_of<Flaky>(64);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(g_handler_calls, 2);
  A::free(p);
  Flaky::reset(1);
  void* q = new_aligned_of<Flaky>(64, std::align_val_t{4096});
  ASSERT_NE(q, nullptr);
  EXPECT_TRUE(aligned(q, 4096));
  A::free(q);
}

TEST_F(NewHandler, WithoutAHandlerNewThrowsAtOnce) {
  Flaky::reset(1000);
  EXPECT_THROW(new_of<Flaky>(64), std::bad_alloc);
  EXPECT_EQ(Flaky::calls, 1);
}

TEST_F(NewHandler, NothrowNewRunsTheHandlerThenReturnsNull) {
  Flaky::reset(1000);
  g_handler_budget = 2;
  std::set_new_handler(counting_handler);
  EXPECT_EQ(new_nothrow_of<Flaky>(64), nullptr);
  EXPECT_EQ(g_handler_calls, 2);
  Flaky::reset(1000);
  g_handler_calls = 0;
  std::set_new_handler(throwing_handler);
  EXPECT_EQ(new_aligned_nothrow_of<Flaky>(64, std::align_val_t{64}), nullptr)
      << "a handler's bad_alloc ends nothrow new with nullptr";
  EXPECT_EQ(g_handler_calls, 1);
}

// The words of the summary's row for `kind` and `size_class`, or nothing.
std::vector<std::string> row(const std::string& summary, const char* kind, const char* size_class) {
  std::istringstream lines(summary);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream in(line);
    std::vector<std::string> words;
    for (std::string w; in >> w;) words.push_back(w);
    if (words.size() == 8 && words[1] == kind && words[2] == size_class) return {words.begin() + 1, words.end()};
  }
  return {};
}

TEST(Introspection, StatsSummaryHasEveryDocumentedLine) {
  std::vector<void*> blocks;
  for (int i = 0; i < 100; ++i) blocks.push_back(A::malloc(48));  // tiny class 2: refills
  for (int i = 0; i < 3; ++i) blocks.push_back(A::malloc(3000));  // a mid class
  blocks.push_back(A::malloc(1 << 20));                           // large
  for (void* p : blocks) A::free(p);
  testing::internal::CaptureStderr();
  print_stats("override_test");
  const std::string out = testing::internal::GetCapturedStderr();
  for (const char* line : {"hakmem: stats of override_test (HAKMEM_STATS)", "slow paths only",
                           "fast paths (tiny hits) count nothing", "refills", "spilled", "freed",
                           "superslabs: ", "large blocks: ", "resized in place", "large cache: ", " hits, ", " purged and ",
                           "peak RSS: ", "KiB (VmHWM)", "system calls: ", " mmap, ", " munmap, ", " madvise, ",
                           " mremap"}) {
    EXPECT_NE(out.find(line), std::string::npos) << "missing \"" << line << "\" in\n" << out;
  }
  // Rows: kind, class, size, refills, refilled, spilled, freed.
  const std::vector<std::string> tiny = row(out, "tiny", "2");
  ASSERT_EQ(tiny.size(), 7u) << "a row for class 2:\n" << out;
  EXPECT_EQ(tiny[2], "48");
  EXPECT_NE(tiny[3], "0") << "refills";
  EXPECT_EQ(tiny[6], "0") << "a tiny class frees nothing one at a time";
  const std::vector<std::string> mid = row(out, "mid", "25");
  ASSERT_EQ(mid.size(), 7u) << "a row for the 3000 B class:\n" << out;
  EXPECT_EQ(mid[2], "3072");
  EXPECT_NE(mid[3], "0") << "refills";
  EXPECT_GE(std::stoll(mid[4]), MidCache::batch(25)) << "the mid cache refills a batch: a slab's worth of 3072 B blocks";
  EXPECT_EQ(mid[6], "0") << "the three frees stayed in the mid cache";
  for (size_t at = 0; (at = out.find('\n', at)) != std::string::npos; ++at) {
    if (at + 1 < out.size()) {
      EXPECT_EQ(out.compare(at + 1, 8, "hakmem: "), 0) << "every line is hakmem's:\n" << out;
    }
  }
}

TEST(Introspection, Mallinfo2CountsSuperSlabsAndLargeBlocks) {
  void* small = A::malloc(100);
  void* large = A::malloc(3 << 20);
  const struct mallinfo2 info = current_mallinfo2();
  EXPECT_GE(info.arena, kSuperSlabSize);
  EXPECT_GE(info.uordblks, kSlabSize);
  EXPECT_EQ(info.arena, info.uordblks + info.fordblks);
  EXPECT_GE(info.hblks, 1u);
  EXPECT_GE(info.hblkhd, size_t{3} << 20);
  A::free(small);
  A::free(large);
}

}  // namespace
}  // namespace hakmem
