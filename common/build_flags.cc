#include "common/build_flags.h"

#include <elf.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <sstream>

namespace lab {

std::vector<std::string> compile_flags_of_self() {
  std::ifstream in("/proc/self/exe", std::ios::binary);
  Elf64_Ehdr header{};
  if (!in.read(reinterpret_cast<char*>(&header), sizeof header) || memcmp(header.e_ident, ELFMAG, SELFMAG) != 0 ||
      header.e_ident[EI_CLASS] != ELFCLASS64 || header.e_shentsize != sizeof(Elf64_Shdr)) {
    return {};
  }
  std::vector<Elf64_Shdr> sections(header.e_shnum);
  in.seekg(static_cast<std::streamoff>(header.e_shoff));
  if (!in.read(reinterpret_cast<char*>(sections.data()), static_cast<std::streamsize>(sections.size() * sizeof(Elf64_Shdr))) ||
      header.e_shstrndx >= sections.size()) {
    return {};
  }
  const auto read_section = [&](const Elf64_Shdr& s) {
    std::string bytes(s.sh_size, '\0');
    in.seekg(static_cast<std::streamoff>(s.sh_offset));
    in.read(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    return bytes;
  };
  const std::string names = read_section(sections[header.e_shstrndx]);
  std::vector<std::string> flags;
  for (const Elf64_Shdr& s : sections) {
    if (s.sh_name >= names.size() || strcmp(names.c_str() + s.sh_name, ".GCC.command.line") != 0) continue;
    // NUL-separated command lines, one per translation unit.
    std::istringstream lines(read_section(s));
    for (std::string line; std::getline(lines, line, '\0');) {
      std::istringstream words(line);
      for (std::string flag; words >> flag;) {
        // Per-file noise (source paths, output names, include dirs) is not a flag.
        if (flag.empty() || flag[0] != '-' || flag.rfind("-iquote", 0) == 0 || flag.rfind("-isystem", 0) == 0 ||
            flag.rfind("-I", 0) == 0 || flag.rfind("-MD", 0) == 0 || flag.rfind("-MF", 0) == 0 ||
            flag.rfind("-frandom-seed", 0) == 0 || flag.rfind("-dumpbase", 0) == 0 || flag.rfind("-D", 0) == 0 ||
            flag.rfind("-o", 0) == 0 || flag.rfind("-auxbase", 0) == 0) {
          continue;
        }
        if (std::find(flags.begin(), flags.end(), flag) == flags.end()) flags.push_back(flag);
      }
    }
  }
  return flags;
}

}  // namespace lab
