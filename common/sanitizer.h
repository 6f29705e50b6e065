// Whether this binary was built with a sanitizer (--config=asan / tsan).
// Sanitizers replace malloc and keep shadow memory, so RSS numbers and the
// identity of a peer allocator mean nothing under them; tests that check
// those skip, saying so.
#pragma once

namespace lab {

// GCC defines __SANITIZE_*__; clang 14 (--config=fuzz) has __has_feature.
#if defined(__has_feature)
#define LAB_CLANG_SANITIZER (__has_feature(address_sanitizer) || __has_feature(thread_sanitizer))
#else
#define LAB_CLANG_SANITIZER 0
#endif

inline constexpr bool kUnderSanitizer =
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__) || LAB_CLANG_SANITIZER
    true;
#else
    false;
#endif

}  // namespace lab
