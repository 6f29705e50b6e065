// main() of the gcc build of a fuzz target: runs LLVMFuzzerTestOneInput on
// every input named on the command line (files, or directories of them,
// in name order), as libFuzzer does when given files. The
// <variant>_corpus_test targets replay the committed corpus this way, so
// `bazel test //...` exercises the fuzz target without clang; a crash
// input from a fuzzing run replays the same way:
//   bazel run //fuzz:ultra_simple_corpus_test -- /path/to/crash-<sha1>
#include <dirent.h>
#include <sys/stat.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size);

namespace {

// The files `path` names: itself, or a directory's regular files sorted.
std::vector<std::string> inputs_of(const std::string& path) {
  struct stat st;
  if (stat(path.c_str(), &st) != 0) {
    fprintf(stderr, "replay: cannot read %s\n", path.c_str());
    exit(2);
  }
  if (!S_ISDIR(st.st_mode)) return {path};
  std::vector<std::string> files;
  DIR* dir = opendir(path.c_str());
  while (dirent* e = dir != nullptr ? readdir(dir) : nullptr) {
    const std::string file = path + "/" + e->d_name;
    if (e->d_name[0] != '.' && stat(file.c_str(), &st) == 0 && S_ISREG(st.st_mode)) files.push_back(file);
  }
  if (dir != nullptr) closedir(dir);
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files;
  for (int i = 1; i < argc; ++i)
    for (std::string& f : inputs_of(argv[i])) files.push_back(std::move(f));
  if (files.empty()) {
    // A replay of nothing would pass without testing anything.
    fprintf(stderr, "replay: no inputs (usage: %s FILE_OR_DIRECTORY...)\n", argv[0]);
    return 2;
  }
  size_t bytes = 0;
  for (const std::string& file : files) {
    std::ifstream in(file, std::ios::binary);
    const std::vector<char> data{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (!in.good() && !in.eof()) {
      fprintf(stderr, "replay: cannot read %s\n", file.c_str());
      return 2;
    }
    LLVMFuzzerTestOneInput(reinterpret_cast<const uint8_t*>(data.data()), data.size());
    bytes += data.size();
  }
  printf("replay: %zu inputs (%zu bytes) passed\n", files.size(), bytes);
  return 0;
}
