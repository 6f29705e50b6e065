// ScopedOption: a test sets one HAKMEM_<NAME> option for its own life and
// leaves the default behind, however it ends (setenv, options_reload, and
// unsetenv plus options_reload again on the way out).
#pragma once

#include <cstdlib>

#include "allocator/config/options.h"

namespace hakmem {

class ScopedOption {
 public:
  ScopedOption(const char* var, const char* value) : var_(var) {
    setenv(var, value, 1);
    options_reload();
  }
  ~ScopedOption() {
    unsetenv(var_);
    options_reload();
  }
  ScopedOption(const ScopedOption&) = delete;
  ScopedOption& operator=(const ScopedOption&) = delete;

 private:
  const char* var_;
};

}  // namespace hakmem
