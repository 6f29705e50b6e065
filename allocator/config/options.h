// The options table: every runtime knob of hakmem, in one place.
//
// Each option has a name, a default, a range and a description. Its value
// comes from the environment variable HAKMEM_<NAME> (upper case), read once
// on first use; a value that is not an integer in range gets a one-line
// warning on stderr and the default. HAKMEM_VERBOSE=1 dumps the whole table.
#pragma once

#include <cstdint>

namespace hakmem {

enum class Option : unsigned {
  kVerbose,
  kDebug,
  kPurgeSlabs,
  kSuperSlabCache,
  kCount,
};

struct OptionInfo {
  const char* name;  // lower case; the variable is HAKMEM_<NAME>
  int64_t default_value;
  int64_t min;
  int64_t max;
  const char* description;
};

// The table itself, indexed by Option.
const OptionInfo& option_info(Option option);

// The value in effect (environment or default). Cheap after the first call.
int64_t option_value(Option option);

// Re-reads the environment; tests use it after setenv().
void options_reload();

// Writes every option, its value and where the value came from to stderr.
void options_dump();

}  // namespace hakmem
