#include "allocator/api/allocator.h"

namespace hakmem {

void report_invalid_pointer(const void* p, unsigned code) {
  // A recently freed large block's address: whatever is there now (nothing,
  // or a new block at another offset), this is its second free.
  if (global_large().recently_freed(p)) report_invalid_free(p, kDoubleFree);
  // A slot that held a slab and was given back: its blocks were all freed.
  if (code == ClassMap::kFreeSlot) report_invalid_free(p, kDoubleFree);
  // Beyond the first 2 MiB of a large block.
  if (code == ClassMap::kLargeBody) report_invalid_free(p, kInteriorPointer);
  // Foreign, or a SuperSlab's header.
  report_invalid_free(p, kNotAllocated);
}

}  // namespace hakmem
