// Whether this binary was built with a sanitizer (--config=asan / tsan).
// Sanitizers replace malloc and keep shadow memory, so RSS numbers and the
// identity of a peer allocator mean nothing under them; tests that check
// those skip, saying so. kUnderThreadSanitizer is for what only
// ThreadSanitizer forbids: it finishes a thread in the thread's last
// pthread destructor round itself, so instrumented code cannot run after
// that round (AddressSanitizer lets it, and runs those tests).
#pragma once

namespace lab {

// GCC defines __SANITIZE_*__; clang 14 (--config=fuzz) has __has_feature.
#if defined(__has_feature)
#define LAB_CLANG_ASAN __has_feature(address_sanitizer)
#define LAB_CLANG_TSAN __has_feature(thread_sanitizer)
#else
#define LAB_CLANG_ASAN 0
#define LAB_CLANG_TSAN 0
#endif

inline constexpr bool kUnderThreadSanitizer =
#if defined(__SANITIZE_THREAD__) || LAB_CLANG_TSAN
    true;
#else
    false;
#endif

inline constexpr bool kUnderSanitizer =
#if defined(__SANITIZE_ADDRESS__) || LAB_CLANG_ASAN
    true;
#else
    kUnderThreadSanitizer;
#endif

}  // namespace lab
