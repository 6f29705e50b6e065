/* Which loaded object a process's malloc resolves to, for tests that run
 * programs with a libhakmem_<variant>.so preloaded (and the same programs
 * on plain glibc, to check the tests themselves). C, so that the start-up
 * trap programs can use it too. */
#ifndef HAKMEM_VARIANTS_PRELOAD_MALLOC_PROVIDER_H_
#define HAKMEM_VARIANTS_PRELOAD_MALLOC_PROVIDER_H_

#ifdef __cplusplus
extern "C" {
#endif

/* The variable naming the library malloc must come from (its file name,
 * e.g. "libhakmem_ultra_simple.so"); unset means glibc's, "libc.so.6". */
#define PRELOAD_TEST_MALLOC_FROM "PRELOAD_TEST_MALLOC_FROM"

/* The file name of the object defining the malloc that this process's
 * calls resolve to (the first definition in the global scope, where
 * LD_PRELOAD puts its libraries), or "unknown". */
const char* malloc_provider(void);

/* The file name PRELOAD_TEST_MALLOC_FROM names ("libc.so.6" when unset). */
const char* expected_malloc_provider(void);

/* Nonzero when the two agree; otherwise prints one line saying what
 * differs to stderr and returns 0. */
int malloc_provider_is_expected(void);

/* Nonzero when a hakmem library is expected (some object other than libc). */
int expecting_hakmem(void);

#ifdef __cplusplus
}
#endif

#endif /* HAKMEM_VARIANTS_PRELOAD_MALLOC_PROVIDER_H_ */
