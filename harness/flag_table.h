// A command's flags as one table: each flag is bound to the option it sets,
// and the default shown by --help is that option's value when the flag is
// added, so a default is written once (in the option's initializer). The
// "Flags:" section of every harness command's --help is generated from its
// table; parsing rejects anything not in it with a one-line error.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace lab {

class FlagTable {
 public:
  // Sets *target from --NAME=VALUE; returns an error message, or nullopt.
  using Apply = std::function<std::optional<std::string>(const std::string& value)>;

  // An integer in [min, max] (k/M/G suffixes accepted).
  template <class Int>
  FlagTable& integer(const std::string& name, Int* target, int64_t min, int64_t max, const std::string& help) {
    return add_integer(name, std::to_string(*target), min, max, help,
                       [target](int64_t v) { *target = static_cast<Int>(v); });
  }
  // Like integer(), for options whose default is "unset" (described in `default_text`).
  FlagTable& optional_integer(const std::string& name, std::optional<int64_t>* target, int64_t min, int64_t max,
                              const std::string& help, const std::string& default_text);
  // A number in (lo, hi], stored as value * scale (e.g. a percent as a fraction).
  FlagTable& number(const std::string& name, double* target, double lo, double hi, const std::string& help,
                    double scale = 1);
  // Free text (a file, a name). `default_text` overrides the shown default
  // when the real one is computed later (e.g. a time-stamped file name).
  FlagTable& text(const std::string& name, const std::string& value_name, std::string* target,
                  const std::string& help, const std::string& default_text = "");
  // A comma-separated list of names; at least one.
  FlagTable& list(const std::string& name, std::vector<std::string>* target, const std::string& help,
                  const std::string& default_text);
  // A comma-separated list of integers in [min, max]; at least one.
  FlagTable& int_list(const std::string& name, std::vector<int>* target, int64_t min, int64_t max,
                      const std::string& help);
  // --NAME alone: sets *target.
  FlagTable& toggle(const std::string& name, bool* target, const std::string& help);
  // Anything else: the caller's parser, and how its value and default read.
  FlagTable& custom(const std::string& name, const std::string& value_name, const std::string& help,
                    const std::string& default_text, Apply apply, bool repeatable = false);

  // Parses argv (after argv[0]). --help sets *help and stops. Returns a
  // one-line error naming the flag, or nullopt.
  std::optional<std::string> parse(int argc, char** argv, bool* help) const;

  // "Flags:" and one line (wrapped) per flag, then --help.
  std::string usage() const;

  struct Flag {
    std::string name;        // as typed, with dashes: "callgrind-ops"
    std::string value_name;  // "N", "LIST", "FILE"; "" for a toggle
    std::string help;
    std::string default_text;  // "" when there is none to show
    bool repeatable = false;
    Apply apply;
  };
  const std::vector<Flag>& flags() const { return flags_; }

 private:
  FlagTable& add_integer(const std::string& name, const std::string& default_text, int64_t min, int64_t max,
                         const std::string& help, std::function<void(int64_t)> set);
  std::vector<Flag> flags_;
};

}  // namespace lab
