// What the allocator under test can serve, as the driver sees it: hakmem's
// own VariantLimits, so a limit a variant declares reaches the driver
// without a copy to keep in step. Real allocators serve everything (a
// default-constructed one); the bound reference declares its limits and the
// driver refuses runs outside them (exit code 4, "refused: ...").
#pragma once

#include "allocator/api/variant_limits.h"

namespace lab {

using AllocatorLimits = hakmem::VariantLimits;

}  // namespace lab
