// settle_request(): see settle_request.h.
#include "workloads/settle_request.h"

#include <cstddef>
#include <cstdlib>

#include "lab/allocator.h"

namespace lab {
namespace {

// 16 B times 2.1^i, i = 0..11: 16 B .. 56 KiB.
constexpr size_t kSettleBlocks = 12;
constexpr size_t kPage = 4096;

constexpr size_t size_of(size_t i) {
  size_t size = 16;
  for (size_t k = 0; k < i; ++k) size = size * 21 / 10;
  return size;
}
static_assert(size_of(kSettleBlocks - 1) > 32 * 1024, "the request reaches the 32 KiB-2 MiB range");
static_assert(size_of(kSettleBlocks - 1) <= 64 * 1024, "the request stays small");

}  // namespace

void settle_request() {
  void* blocks[kSettleBlocks];
  for (size_t i = 0; i < kSettleBlocks; ++i) {
    const size_t size = size_of(i);
    auto* p = static_cast<unsigned char*>(allocate(size));
    if (p == nullptr) abort();  // nothing else can be measured after that
    for (size_t at = 0; at < size; at += kPage) p[at] = static_cast<unsigned char>(i);
    p[size - 1] = static_cast<unsigned char>(i);
    // The compiler must not drop the pair as dead (GCC removes malloc/free
    // pairs whose memory nothing reads).
    asm volatile("" : : "r"(p) : "memory");
    blocks[i] = p;
  }
  for (size_t i = kSettleBlocks; i-- > 0;) deallocate(blocks[i]);
}

}  // namespace lab
