#include "allocator/config/options.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <string>

namespace hakmem {
namespace {

TEST(Options, DefaultsWithoutEnvironment) {
  unsetenv("HAKMEM_PURGE_SLABS");
  options_reload();
  EXPECT_EQ(option_value(Option::kPurgeSlabs), option_info(Option::kPurgeSlabs).default_value);
}

TEST(Options, EnvironmentOverridesTheDefault) {
  setenv("HAKMEM_PURGE_SLABS", "7", 1);
  options_reload();
  EXPECT_EQ(option_value(Option::kPurgeSlabs), 7);
  unsetenv("HAKMEM_PURGE_SLABS");
  options_reload();
}

TEST(Options, BadValuesWarnAndKeepTheDefault) {
  for (const char* bad : {"abc", "-1", "12x", "", "99999999999999999999"}) {
    setenv("HAKMEM_PURGE_SLABS", bad, 1);
    testing::internal::CaptureStderr();
    options_reload();
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(option_value(Option::kPurgeSlabs), option_info(Option::kPurgeSlabs).default_value) << bad;
    EXPECT_NE(err.find("HAKMEM_PURGE_SLABS"), std::string::npos) << bad << ": " << err;
    EXPECT_NE(err.find("warning"), std::string::npos) << err;
  }
  unsetenv("HAKMEM_PURGE_SLABS");
  options_reload();
}

TEST(Options, DumpListsEveryOption) {
  testing::internal::CaptureStderr();
  options_dump();
  const std::string err = testing::internal::GetCapturedStderr();
  for (unsigned i = 0; i < static_cast<unsigned>(Option::kCount); ++i) {
    std::string name = "HAKMEM_";
    for (const char* p = option_info(static_cast<Option>(i)).name; *p; ++p) name += static_cast<char>(toupper(*p));
    EXPECT_NE(err.find(name), std::string::npos) << name;
  }
}

}  // namespace
}  // namespace hakmem
