#include "harness/programs_checksum.h"

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace lab {
namespace {

void frame(Fnv1a64& h, std::string_view name, uint64_t length) {
  h.update(name);
  h.update(std::string_view("\0", 1));
  char bytes[8];
  for (int i = 0; i < 8; ++i) bytes[i] = static_cast<char>(length >> (8 * i));
  h.update(std::string_view(bytes, sizeof bytes));
}

}  // namespace

std::string format_checksum(uint64_t hash) { return fmt::format("fnv1a64:{:016x}", hash); }

std::optional<std::string> output_checksum(const std::string& stdout_text, const std::vector<std::string>& files,
                                           std::string* error) {
  Fnv1a64 h;
  frame(h, "stdout", stdout_text.size());
  h.update(stdout_text);
  for (const std::string& path : files) {
    std::error_code ec;
    const uintmax_t size = std::filesystem::file_size(path, ec);
    std::ifstream in(path, std::ios::binary);
    if (ec || !in) {
      *error = "cannot read its output " + path + " (" + (ec ? ec.message() : std::string(strerror(errno))) + ")";
      return std::nullopt;
    }
    frame(h, std::filesystem::path(path).filename().string(), size);
    char buffer[1 << 16];
    uint64_t read = 0;
    while (in.read(buffer, sizeof buffer) || in.gcount() > 0) {
      h.update(std::string_view(buffer, static_cast<size_t>(in.gcount())));
      read += static_cast<uint64_t>(in.gcount());
    }
    if (read != size) {
      *error = fmt::format("its output {} changed while it was read ({} bytes, then {})", path, size, read);
      return std::nullopt;
    }
  }
  return format_checksum(h.value());
}

}  // namespace lab
