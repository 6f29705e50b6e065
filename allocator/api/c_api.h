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

/* The learning layer (HAKMEM_LEARN), the same in every variant. */
struct hak_learning {
  const char* mode;               /* "off", "rules", "on" or "frozen" */
  unsigned long long interval_ms; /* the learner thread's period; 0: no thread */
  unsigned long long passes;      /* the thread's passes so far */
  unsigned long long cpu_ns;      /* the thread's CPU time so far */
  unsigned long long decisions;   /* entries in the trace (hak_learn_decisions) */
  unsigned long long dropped;     /* decisions beyond the trace's capacity */
  const char* error;              /* why frozen runs without its file's knobs, or NULL */
  unsigned long long clock_ms;    /* the learner's clock now (CLOCK_MONOTONIC_COARSE, ms) */
};
void hak_learn_report(struct hak_learning* out);

/* One entry of the learner's trace: at t_ms (the learner's clock), knob
 * (of tiny class or SuperSlab group `index`, or -1) went from old_value to
 * new_value because of `signal`. The first entries give every knob's
 * starting value, with signal "start". */
struct hak_learn_decision {
  unsigned long long t_ms;
  const char* knob;
  int index;
  unsigned old_value;
  unsigned new_value;
  const char* signal;
};
/* Copies entries [first, first + max) of the trace that exist into out;
 * returns how many. */
size_t hak_learn_decisions(struct hak_learn_decision* out, size_t first, size_t max);

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

// Defines hak_learn_report and hak_learn_decisions, the same for every
// variant, from the process's learner (allocator/learner/process_learner.h,
// which the includer has in scope).
#define HAKMEM_DEFINE_LEARN_REPORT()                                                  \
  void hak_learn_report(struct hak_learning* out) {                              \
    const hakmem::LearnReport r = hakmem::learn_report();                            \
    const struct hak_learning report = {r.mode,      r.interval_ms, r.passes, r.cpu_ns, \
                                            r.decisions, r.dropped,     r.error,  r.clock_ms}; \
    *out = report;                                                                   \
  }                                                                                  \
  size_t hak_learn_decisions(struct hak_learn_decision* out, size_t first, size_t max) { \
    const hakmem::DecisionTrace& trace = hakmem::process_learner_state().trace();    \
    size_t n = 0;                                                                    \
    for (size_t i = first, size = trace.size(); i < size && n < max; ++i, ++n) {     \
      const hakmem::learn::Decision& d = trace.at(i);                                \
      const struct hak_learn_decision entry = {d.t_ms, hakmem::learn::knob_name(d.knob), \
                                               d.index, d.old_value, d.new_value, d.signal}; \
      out[n] = entry;                                                                \
    }                                                                                \
    return n;                                                                        \
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
  HAKMEM_DEFINE_LEARN_REPORT()                                                       \
  }
#endif

#endif /* HAKMEM_API_C_API_H_ */
