// Diagnostics to stderr that never allocate: the allocator may be the
// process's malloc, so printf-with-heap and iostreams are off limits here.
#pragma once

namespace hakmem {

// Writes "hakmem: <message>\n" to stderr with one write(2).
[[gnu::format(printf, 1, 2)]] void log_message(const char* format, ...);

// Logs, then aborts: for corrupted heaps and broken invariants.
[[noreturn, gnu::format(printf, 1, 2), gnu::cold]] void fatal(const char* format, ...);

}  // namespace hakmem
