#include "common/flags.h"

#include <cerrno>
#include <algorithm>
#include <cstdlib>
#include <sstream>

namespace lab {

std::optional<std::string> split_flags(int argc, char** argv, RawFlags* out) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--", 0) != 0) {
      out->positional.push_back(arg);
      continue;
    }
    arg = arg.substr(2);
    if (arg.empty()) return std::string("empty flag '--'");
    const auto eq = arg.find('=');
    // --min-size and --min_size are the same flag.
    for (size_t i = 0; i < std::min(eq, arg.size()); ++i)
      if (arg[i] == '-') arg[i] = '_';
    if (eq != std::string::npos) {
      out->pairs.emplace_back(arg.substr(0, eq), arg.substr(eq + 1));
    } else if (i + 1 < argc && std::string(argv[i + 1]).rfind("--", 0) != 0) {
      out->pairs.emplace_back(arg, argv[++i]);
    } else {
      out->pairs.emplace_back(arg, "");
    }
  }
  return std::nullopt;
}

std::optional<std::string> parse_int_flag(const IntFlagSpec& spec, const std::string& text,
                                          int64_t* out) {
  const auto bad = [&] {
    std::ostringstream msg;
    msg << "--" << spec.name << " must be an integer in [" << spec.min << ", " << spec.max
        << "], got '" << text << "'";
    return msg.str();
  };
  if (text.empty()) return bad();
  char* end = nullptr;
  errno = 0;
  long long value = strtoll(text.c_str(), &end, 10);
  if (errno != 0 || end == text.c_str()) return bad();
  std::string suffix(end);
  long long scale = 1;
  if (suffix == "k" || suffix == "K") scale = 1000;
  else if (suffix == "M") scale = 1000 * 1000;
  else if (suffix == "G") scale = 1000LL * 1000 * 1000;
  else if (!suffix.empty()) return bad();
  if (__builtin_mul_overflow(value, scale, &value)) return bad();
  if (value < spec.min || value > spec.max) return bad();
  *out = value;
  return std::nullopt;
}

std::string describe_flags(const std::vector<IntFlagSpec>& specs) {
  std::ostringstream out;
  for (const auto& spec : specs) {
    std::string left = "  --" + spec.name + "=N";
    if (left.size() < 24) left.resize(24, ' ');
    out << left << spec.help << " (default " << spec.default_value << ", range [" << spec.min << ", "
        << spec.max << "])\n";
  }
  return out.str();
}

}  // namespace lab
