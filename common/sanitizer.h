// Whether this binary was built with a sanitizer (--config=asan / tsan).
// Sanitizers replace malloc and keep shadow memory, so RSS numbers and the
// identity of a peer allocator mean nothing under them; tests that check
// those skip, saying so.
#pragma once

namespace lab {

inline constexpr bool kUnderSanitizer =
#if defined(__SANITIZE_THREAD__) || defined(__SANITIZE_ADDRESS__)
    true;
#else
    false;
#endif

}  // namespace lab
