// What the kernel says about this process, read without allocating: the
// allocator may be the process's malloc, and reports this at exit
// (HAKMEM_STATS), when stdio and the heap are off limits.
#pragma once

#include <cstdint>

namespace hakmem {

// Peak resident set size in KiB (VmHWM in /proc/self/status), or -1 when
// the file cannot be read or has no such line.
int64_t peak_rss_kib();

// Minor page faults this process has taken so far (getrusage), or -1 if
// the kernel refuses. The learner reads it once per window.
int64_t minor_faults();

}  // namespace hakmem
