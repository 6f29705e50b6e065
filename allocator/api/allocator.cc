#include "allocator/api/allocator.h"

namespace hakmem {

void report_invalid_free(const void* p, unsigned slot_class) {
  const char* what = slot_class == kFreeSlotClass ? "its slab is free (double free?)"
                     : slot_class == kHeaderClass ? "it points into a SuperSlab header"
                                                  : "its slot holds no hakmem block";
  fatal("invalid free or size query of %p: %s (slot class byte %u)", p, what, slot_class);
}

}  // namespace hakmem
