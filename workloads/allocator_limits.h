// What the allocator under test can serve, as the driver sees it. Real
// allocators serve everything; the bound reference declares its limits and
// the driver refuses runs outside them (exit code 4, "refused: ...").
#pragma once

#include <cstddef>
#include <cstdint>

namespace lab {

struct AllocatorLimits {
  bool single_thread = false;
  size_t max_size = SIZE_MAX;
  bool returns_memory = true;
};

}  // namespace lab
