#include "harness/flag_table.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <set>
#include <sstream>

#include "common/flags.h"
#include "harness/cli.h"

namespace lab {
namespace {

// split_flags() spells every flag with underscores.
std::string canonical(std::string name) {
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

// Wraps `text` to lines of at most `width` characters.
std::vector<std::string> wrap(const std::string& text, size_t width) {
  std::vector<std::string> lines;
  std::istringstream words(text);
  std::string line;
  for (std::string word; words >> word;) {
    if (!line.empty() && line.size() + 1 + word.size() > width) {
      lines.push_back(line);
      line.clear();
    }
    line += (line.empty() ? "" : " ") + word;
  }
  if (!line.empty()) lines.push_back(line);
  return lines;
}

}  // namespace

FlagTable& FlagTable::add_integer(const std::string& name, const std::string& default_text, int64_t min, int64_t max,
                                  const std::string& help, std::function<void(int64_t)> set) {
  const IntFlagSpec spec{name, 0, min, max, ""};
  return custom(name, "N", help, default_text, [spec, set](const std::string& value) -> std::optional<std::string> {
    int64_t n = 0;
    if (auto e = parse_int_flag(spec, value, &n)) return e;
    set(n);
    return std::nullopt;
  });
}

FlagTable& FlagTable::optional_integer(const std::string& name, std::optional<int64_t>* target, int64_t min,
                                       int64_t max, const std::string& help, const std::string& default_text) {
  return add_integer(name, default_text, min, max, help, [target](int64_t v) { *target = v; });
}

FlagTable& FlagTable::number(const std::string& name, double* target, double lo, double hi, const std::string& help,
                             double scale) {
  return custom(name, "X", help, fmt::format("{}", *target / scale),
                [=](const std::string& value) -> std::optional<std::string> {
                  char* end = nullptr;
                  const double v = strtod(value.c_str(), &end);
                  if (value.empty() || *end != '\0' || !(v > lo) || v > hi)
                    return fmt::format("--{} must be a number in ({}, {}], got '{}'", name, lo, hi, value);
                  *target = v * scale;
                  return std::nullopt;
                });
}

FlagTable& FlagTable::text(const std::string& name, const std::string& value_name, std::string* target,
                           const std::string& help, const std::string& default_text) {
  return custom(name, value_name, help, default_text.empty() ? *target : default_text,
                [=](const std::string& value) -> std::optional<std::string> {
                  if (value.empty()) return "--" + name + " needs a value (--" + name + "=" + value_name + ")";
                  *target = value;
                  return std::nullopt;
                });
}

FlagTable& FlagTable::list(const std::string& name, std::vector<std::string>* target, const std::string& help,
                           const std::string& default_text) {
  return custom(name, "LIST", help, default_text, [=](const std::string& value) -> std::optional<std::string> {
    *target = split_list(value);
    if (target->empty()) return "--" + name + " needs at least one name";
    return std::nullopt;
  });
}

FlagTable& FlagTable::int_list(const std::string& name, std::vector<int>* target, int64_t min, int64_t max,
                               const std::string& help) {
  std::string shown;
  for (int v : *target) shown += (shown.empty() ? "" : ",") + std::to_string(v);
  const IntFlagSpec spec{name, 0, min, max, ""};
  return custom(name, "LIST", help, shown, [=](const std::string& value) -> std::optional<std::string> {
    std::vector<int> values;
    for (const std::string& item : split_list(value)) {
      int64_t n = 0;
      if (auto e = parse_int_flag(spec, item, &n)) return e;
      values.push_back(static_cast<int>(n));
    }
    if (values.empty()) return "--" + name + " needs at least one value";
    *target = values;
    return std::nullopt;
  });
}

FlagTable& FlagTable::toggle(const std::string& name, bool* target, const std::string& help) {
  return custom(name, "", help, "", [=](const std::string& value) -> std::optional<std::string> {
    if (!value.empty()) return "--" + name + " takes no value, got '" + value + "'";
    *target = true;
    return std::nullopt;
  });
}

FlagTable& FlagTable::custom(const std::string& name, const std::string& value_name, const std::string& help,
                             const std::string& default_text, Apply apply, bool repeatable) {
  flags_.push_back({name, value_name, help, default_text, repeatable, std::move(apply)});
  return *this;
}

std::optional<std::string> FlagTable::parse(int argc, char** argv, bool* help) const {
  RawFlags raw;
  if (auto e = split_flags(argc, argv, &raw)) return e;
  if (!raw.positional.empty()) return "unexpected argument '" + raw.positional[0] + "'";
  std::set<std::string> seen;
  for (const auto& [name, value] : raw.pairs) {
    if (name == "help") {
      *help = true;
      return std::nullopt;
    }
    const auto flag = std::find_if(flags_.begin(), flags_.end(), [&](const Flag& f) { return canonical(f.name) == name; });
    std::string shown = name;
    std::replace(shown.begin(), shown.end(), '_', '-');
    if (flag == flags_.end()) return "unknown flag --" + shown;
    if (!flag->repeatable && !seen.insert(name).second) return "--" + shown + " is given twice";
    if (auto e = flag->apply(value)) return e;
  }
  return std::nullopt;
}

std::string FlagTable::usage() const {
  constexpr size_t kLeft = 23;
  std::string out = "Flags:\n";
  std::vector<Flag> all = flags_;
  all.push_back({"help", "", "this text", "", false, nullptr});
  for (const Flag& f : all) {
    std::string left = "  --" + f.name + (f.value_name.empty() ? "" : "=" + f.value_name);
    std::string help = f.help;
    if (!f.default_text.empty()) help += " (default: " + f.default_text + ")";
    if (f.repeatable) help += " (repeatable)";
    const std::vector<std::string> lines = wrap(help, 100 - kLeft);
    if (left.size() + 1 > kLeft) {
      out += left + "\n";
      left.clear();
    }
    for (size_t i = 0; i < lines.size(); ++i) {
      std::string line = i == 0 ? left : "";
      line.resize(kLeft, ' ');
      out += line + lines[i] + "\n";
    }
  }
  return out;
}

}  // namespace lab
