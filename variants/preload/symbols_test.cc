// The symbol table of a libhakmem_<variant>.so (the first argument), read
// with `nm -D`: every name of the malloc family, glibc's __libc_* names and
// every operator new and delete is defined (T or W), each at the address
// of its hak_* target, so each is an alias of the fast path and not a
// wrapper around it; nothing else is exported; and every name is one that
// glibc (or, for the operators, libstdc++) exports, so none is misspelt.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "variants/preload/library_arg.h"
#include "variants/preload/spawn.h"

namespace {

using preload_test::library_under_test;

struct Symbol {
  std::string address;
  char type;
};

// name (without a version suffix) -> address and type, from nm -D.
std::map<std::string, Symbol> defined_symbols(const std::string& object) {
  const preload_test::Outcome out =
      preload_test::run("/usr/bin/nm", {"-D", "--defined-only", object}, preload_test::preload_environment("none"));
  EXPECT_EQ(out.exit_code, 0) << "nm -D " << object << ":\n" << out.output;
  std::map<std::string, Symbol> symbols;
  std::istringstream lines(out.output);
  std::string address, type, name;
  while (lines >> address >> type >> name) symbols[name.substr(0, name.find('@'))] = {address, type[0]};
  return symbols;
}

std::string object_defining(const char* name) {
  Dl_info info;
  void* address = dlsym(RTLD_DEFAULT, name);
  return address != nullptr && dladdr(address, &info) != 0 && info.dli_fname != nullptr ? info.dli_fname : "";
}

// Each exported name and the hak_* function it must be an alias of.
const std::vector<std::pair<const char*, const char*>> kAliases = {
    {"malloc", "hak_malloc"},
    {"free", "hak_free"},
    {"calloc", "hak_calloc"},
    {"realloc", "hak_realloc"},
    {"reallocarray", "hak_reallocarray"},
    {"posix_memalign", "hak_posix_memalign"},
    {"aligned_alloc", "hak_memalign"},  // glibc 2.36: aligned_alloc is memalign
    {"memalign", "hak_memalign"},
    {"valloc", "hak_valloc"},
    {"pvalloc", "hak_pvalloc"},
    {"malloc_usable_size", "hak_malloc_usable_size"},
    {"cfree", "hak_free"},
    {"malloc_trim", "hak_malloc_trim"},
    {"mallopt", "hak_mallopt"},
    {"mallinfo2", "hak_mallinfo2"},
    {"mallinfo", "hak_mallinfo"},
    {"malloc_stats", "hak_malloc_stats"},
    {"__libc_malloc", "hak_malloc"},
    {"__libc_free", "hak_free"},
    {"__libc_calloc", "hak_calloc"},
    {"__libc_realloc", "hak_realloc"},
    {"__libc_reallocarray", "hak_reallocarray"},
    {"__libc_memalign", "hak_memalign"},
    {"__libc_valloc", "hak_valloc"},
    {"__libc_pvalloc", "hak_pvalloc"},
    {"__libc_mallopt", "hak_mallopt"},
    {"__libc_mallinfo", "hak_mallinfo"},
    // operator new: plain, nothrow, aligned, aligned nothrow; single and array.
    {"_Znwm", "hak_new"},
    {"_Znam", "hak_new"},
    {"_ZnwmRKSt9nothrow_t", "hak_new_nothrow"},
    {"_ZnamRKSt9nothrow_t", "hak_new_nothrow"},
    {"_ZnwmSt11align_val_t", "hak_new_aligned"},
    {"_ZnamSt11align_val_t", "hak_new_aligned"},
    {"_ZnwmSt11align_val_tRKSt9nothrow_t", "hak_new_aligned_nothrow"},
    {"_ZnamSt11align_val_tRKSt9nothrow_t", "hak_new_aligned_nothrow"},
    // operator delete: plain, nothrow, sized, aligned, sized aligned, aligned nothrow.
    {"_ZdlPv", "hak_free"},
    {"_ZdaPv", "hak_free"},
    {"_ZdlPvRKSt9nothrow_t", "hak_delete_nothrow"},
    {"_ZdaPvRKSt9nothrow_t", "hak_delete_nothrow"},
    {"_ZdlPvm", "hak_delete_sized"},
    {"_ZdaPvm", "hak_delete_sized"},
    {"_ZdlPvSt11align_val_t", "hak_delete_aligned"},
    {"_ZdaPvSt11align_val_t", "hak_delete_aligned"},
    {"_ZdlPvmSt11align_val_t", "hak_delete_sized_aligned"},
    {"_ZdaPvmSt11align_val_t", "hak_delete_sized_aligned"},
    {"_ZdlPvSt11align_val_tRKSt9nothrow_t", "hak_delete_aligned_nothrow"},
    {"_ZdaPvSt11align_val_tRKSt9nothrow_t", "hak_delete_aligned_nothrow"},
};

// hakmem's own C ABI (allocator/api/c_api.h), not aliased.
const std::vector<const char*> kCAbi = {"hak_aligned_alloc",  "hak_trim",          "hak_variant_name",
                                        "hak_syscall_counts", "hak_learn_report", "hak_learn_decisions"};

bool is_function(char type) { return type == 'T' || type == 'W'; }

TEST(Symbols, EveryNameIsDefinedAtItsTargetsAddress) {
  const auto symbols = defined_symbols(preload_test::runfile(library_under_test()));
  for (auto [name, target] : kAliases) {
    const auto found = symbols.find(name);
    ASSERT_NE(found, symbols.end()) << name << " is not defined";
    EXPECT_TRUE(is_function(found->second.type)) << name << " has type " << found->second.type;
    const auto aliased = symbols.find(target);
    ASSERT_NE(aliased, symbols.end()) << target << " is not defined";
    EXPECT_EQ(found->second.address, aliased->second.address)
        << name << " is not an alias of " << target << ": a wrapper would have its own address";
  }
  for (const char* name : kCAbi) {
    const auto found = symbols.find(name);
    ASSERT_NE(found, symbols.end()) << name;
    EXPECT_TRUE(is_function(found->second.type)) << name;
  }
}

TEST(Symbols, NothingElseIsExported) {
  std::set<std::string> allowed(kCAbi.begin(), kCAbi.end());
  for (auto [name, target] : kAliases) {
    allowed.insert(name);
    allowed.insert(target);
  }
  for (const auto& [name, symbol] : defined_symbols(preload_test::runfile(library_under_test()))) {
    // Lower case is local (the TLS block), except 'u', a unique global.
    if (!isupper(static_cast<unsigned char>(symbol.type)) && symbol.type != 'u') continue;
    EXPECT_TRUE(allowed.count(name) != 0) << name << " is exported (type " << symbol.type
                                          << "); the allocator's internals must stay local (exports.lds)";
  }
}

TEST(Symbols, EveryNameIsOneGlibcOrLibstdcxxExports) {
  const std::string libc = object_defining("__libc_malloc");
  const std::string libstdcxx = object_defining("_ZSt15get_new_handlerv");
  ASSERT_NE(libc, "");
  ASSERT_NE(libstdcxx, "");
  const auto libc_symbols = defined_symbols(libc);
  const auto libstdcxx_symbols = defined_symbols(libstdcxx);
  for (auto [name, target] : kAliases) {
    const bool cxx = std::string(name).rfind("_Z", 0) == 0;
    const auto& exported = cxx ? libstdcxx_symbols : libc_symbols;
    EXPECT_TRUE(exported.count(name) != 0) << name << " is not in " << (cxx ? libstdcxx : libc);
  }
}

}  // namespace
