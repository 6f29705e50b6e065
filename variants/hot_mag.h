// hot_mag: the seed's layered path. A 16-slot hot array per tiny class,
// inline in the thread's cache, in front of the magazine layer:
// hot array -> magazines -> depot -> thread heap -> SuperSlabs.
#pragma once

#include <string_view>

#include "allocator/api/allocator.h"
#include "allocator/frontend/hot_layer.h"
#include "allocator/frontend/magazine_layer.h"

namespace hakmem::variants {

struct HotMag : HotLayer</*Slots=*/16, MagazineLayer</*Rounds=*/64>> {
  static constexpr std::string_view kName = "hot_mag";
};

using HotMagAllocator = Allocator<HotMag>;

}  // namespace hakmem::variants
