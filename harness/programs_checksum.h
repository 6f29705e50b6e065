// The checksum that proves a program's output did not change under another
// allocator: FNV-1a 64 over its stdout and the files it wrote. FNV-1a is
// small enough to keep in the repository and tells two outputs apart;
// nothing here defends against a forger, only against an allocator that
// corrupts a byte.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace lab {

// FNV-1a, 64 bits, fed in pieces: update("ab") then update("c") equals
// update("abc").
class Fnv1a64 {
 public:
  static constexpr uint64_t kOffsetBasis = 0xcbf29ce484222325ull;
  static constexpr uint64_t kPrime = 0x100000001b3ull;

  void update(std::string_view bytes) {
    for (const unsigned char c : bytes) hash_ = (hash_ ^ c) * kPrime;
  }
  uint64_t value() const { return hash_; }

 private:
  uint64_t hash_ = kOffsetBasis;
};

// "fnv1a64:<16 lowercase hex digits>", as the run record stores it.
std::string format_checksum(uint64_t hash);

// The checksum of one program run: its stdout, then each output file in
// the order given. Every piece is framed by its name (the file's base name,
// "stdout" for stdout) and its length, so moving bytes from one piece to
// the next changes the checksum. A file that cannot be read is an error
// naming it (the program did not write what it should have).
std::optional<std::string> output_checksum(const std::string& stdout_text, const std::vector<std::string>& files,
                                           std::string* error);

}  // namespace lab
