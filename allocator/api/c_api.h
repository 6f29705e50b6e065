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

#ifdef __cplusplus
}  // extern "C"

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
  }
#endif

#endif /* HAKMEM_API_C_API_H_ */
