// Whole small files read and written without allocating (open, read,
// write, close): the learner's knob file (learn/knob_file.h), which the
// allocator reads and writes from inside malloc's library. The PAL's only
// file system calls; they run once per process, at a learner's start
// (HAKMEM_LEARN=frozen) and at its exit.
#pragma once

#include <cstddef>
#include <cstdint>

namespace hakmem {

// Reads up to cap - 1 bytes of `path` into buf and NUL-terminates it.
// Returns the length, or -1 with errno set (a file longer than cap - 1
// bytes is refused with EFBIG: a truncated knob file must not parse).
int64_t read_small_file(const char* path, char* buf, size_t cap);

// Replaces `path` with data[0, n): written to path.tmp, then renamed over
// it, so a reader never sees half a file. False with errno set.
bool write_small_file(const char* path, const char* data, size_t n);

}  // namespace hakmem
