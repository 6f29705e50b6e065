/* The C ABI every hakmem variant provides. A program links exactly one
 * variant's library; these symbols are that variant. */
#ifndef HAKMEM_API_C_API_H_
#define HAKMEM_API_C_API_H_

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void* hak_malloc(size_t size);
void hak_free(void* p);
void* hak_calloc(size_t count, size_t size);
void* hak_realloc(void* p, size_t size);
void* hak_aligned_alloc(size_t align, size_t size);
size_t hak_malloc_usable_size(const void* p);
/* Gives this thread's cached blocks back, then returns free pages to the OS. */
void hak_trim(void);
/* The variant's name, e.g. "ultra_simple". */
const char* hak_variant_name(void);

/* System calls hakmem has made in this process, every variant's alike (one
 * Pal per process counts each mmap, munmap, madvise and mremap it makes,
 * refused ones included). */
struct hak_syscalls {
  unsigned long long mmap;
  unsigned long long munmap;
  unsigned long long madvise;
  unsigned long long mremap;
};
/* Fills *out with the counts since the process started. For harnesses: the
 * workload driver finds it with dlsym in a process a library was preloaded
 * into, and counts the difference over its timed region. */
void hak_syscall_counts(struct hak_syscalls* out);

#ifdef __cplusplus
}  // extern "C"

// Defines hak_syscall_counts, the same for every variant: HAKMEM_DEFINE_C_API
// and a preload library's entry points (entry_points.inc) both use it. The
// includer has hakmem's Pal (allocator/pal/pal.h) in scope.
// (Its C linkage comes from the declaration above.)
#define HAKMEM_DEFINE_SYSCALL_COUNTS()                                               \
  void hak_syscall_counts(struct hak_syscalls* out) {                                \
    const hakmem::SyscallCounts c = hakmem::g_os_pal.syscalls();                    \
    *out = hak_syscalls{c.mmap, c.munmap, c.madvise, c.mremap};                      \
  }

// Defines the C ABI above for Allocator type A. Used once per variant
// library, in the source the variant's Bazel macro generates.
#define HAKMEM_DEFINE_C_API(A)                                                       \
  extern "C" {                                                                       \
  void* hak_malloc(size_t size) { return A::malloc(size); }                          \
  void hak_free(void* p) { A::free(p); }                                             \
  void* hak_calloc(size_t count, size_t size) { return A::calloc(count, size); }     \
  void* hak_realloc(void* p, size_t size) { return A::realloc(p, size); }            \
  void* hak_aligned_alloc(size_t align, size_t size) { return A::aligned_alloc(align, size); } \
  size_t hak_malloc_usable_size(const void* p) { return A::usable_size(p); }         \
  void hak_trim(void) { A::trim(); }                                                 \
  const char* hak_variant_name(void) { return A::kName.data(); }                     \
  HAKMEM_DEFINE_SYSCALL_COUNTS()                                                     \
  }
#endif

#endif /* HAKMEM_API_C_API_H_ */
