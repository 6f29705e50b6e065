// ultra_simple: the seed design's front end. One bounded thread-local free
// list per tiny class; a miss refills 64 blocks from the thread heap; a
// free into a full list (128) spills the 64 coldest blocks back.
#pragma once

#include <string_view>

#include "allocator/api/allocator.h"
#include "allocator/frontend/free_list_layer.h"

namespace hakmem::variants {

struct UltraSimple : FreeListLayer</*Refill=*/64, /*Limit=*/128> {
  static constexpr std::string_view kName = "ultra_simple";
};

using UltraSimpleAllocator = Allocator<UltraSimple>;

}  // namespace hakmem::variants
