// magazine: Bonwick-style magazines of 64 rounds per tiny class (a loaded
// and a previous one per thread), exchanged whole with a shared depot.
#pragma once

#include <string_view>

#include "allocator/api/allocator.h"
#include "allocator/frontend/magazine_layer.h"

namespace hakmem::variants {

struct MagazineFrontEnd : MagazineLayer</*Rounds=*/64> {
  static constexpr std::string_view kName = "magazine";
};

using MagazineAllocator = Allocator<MagazineFrontEnd>;

}  // namespace hakmem::variants
