// The settle step's request (workloads/support/measure.cc says why the
// process stays lightly alive after the drain): compiled once per
// allocator, like the workloads, so it calls the allocator under test
// through lab/allocator.h in linked mode and plain malloc under LD_PRELOAD.
#pragma once

namespace lab {

// One small request: kSettleBlocks blocks of mixed sizes (16 B to 64 KiB,
// each about twice the last: tiny, mid and the low end of the 32 KiB-2 MiB
// range, so every allocator's paths for those sizes are called), every
// page written, then freed in reverse order. About 130 KiB live at most.
void settle_request();

}  // namespace lab
