// Command-line flags for the drivers and the harness: --name=value or --name value, integer
// flags with ranges, and one-line errors that name the flag and the value.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace lab {

struct IntFlagSpec {
  std::string name;  // without the leading dashes
  int64_t default_value;
  int64_t min;
  int64_t max;
  std::string help;
};

// Raw "--name=value" pairs from argv, in order; bare "--name" has value "".
struct RawFlags {
  std::vector<std::pair<std::string, std::string>> pairs;
  std::vector<std::string> positional;
};

// Splits argv into flags; dashes in a flag's name become underscores.
// Returns an error message for malformed input.
std::optional<std::string> split_flags(int argc, char** argv, RawFlags* out);

// Parses an integer flag value within [spec.min, spec.max]; accepts k/M/G
// suffixes (powers of 1000) for readability on the command line.
std::optional<std::string> parse_int_flag(const IntFlagSpec& spec, const std::string& text,
                                          int64_t* out);

// "  --name=N   help (default D, range [a, b])" lines for --help.
std::string describe_flags(const std::vector<IntFlagSpec>& specs);

}  // namespace lab
