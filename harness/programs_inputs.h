// The program suite's inputs, generated at run time from a seed: the same
// seed gives the same bytes on every machine (a fixed generator, not
// <random>'s distributions, whose output the standard leaves to each
// library). Nothing is downloaded and nothing large is committed.
#pragma once

#include <cstdint>
#include <string>

namespace lab {

// splitmix64: tiny, and every seed (0 included) gives a usable stream.
class InputRng {
 public:
  explicit InputRng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
  }
  // In [0, n); the modulo bias is irrelevant for test data.
  uint64_t below(uint64_t n) { return next() % n; }
  // Lowercase letters, length in [min, max].
  std::string word(int min, int max);

 private:
  uint64_t state_;
};

// A SQL script for sqlite3: two tables filled with `rows` orders (and a
// tenth as many customers), one INSERT statement per row so each is parsed
// on its own, two indexes, then grouped queries, a join, an update and a
// delete whose results it prints. Integer arithmetic only, so the printed
// results do not depend on float formatting.
std::string sql_script(uint64_t seed, int rows);

// A C++ translation unit for g++: standard headers (<map>, <string>,
// <unordered_map>, <sstream>, ...) and `functions` class templates, each
// instantiated in a function that builds maps, strings and sorted vectors:
// parsing, template instantiation and optimisation, as in real code.
std::string cpp_source(uint64_t seed, int functions);

// Module `module` of an assembly program for the linker: `functions`
// functions, each in its own section with a long mangled-looking name and
// a string in a mergeable section, calling functions of this and earlier
// modules. assembly_entry() holds _start, which calls into module 0.
std::string assembly_module(uint64_t seed, int module, int functions);
std::string assembly_entry(uint64_t seed);

}  // namespace lab
