#include "allocator/config/options.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <utility>

namespace hakmem {
namespace {

TEST(Options, EachOptionFindsItsOwnRow) {
  struct Expected {
    Option option;
    const char* name;
    int64_t default_value, min, max;
  };
  const Expected table[] = {
      {Option::kVerbose, "verbose", 0, 0, 1},
      {Option::kDebug, "debug", 0, 0, 2},
      {Option::kPurgeDelayMs, "purge_delay_ms", 250, 0, 3'600'000},
      {Option::kSuperSlabKib, "superslab_kib", 2048, 1024, 2048},
      {Option::kSuperSlabCache, "superslab_cache", 1, 0, 1024},
      {Option::kMidCacheKib, "mid_cache_kib", 1024, 0, 1 << 20},
      {Option::kStats, "stats", 0, 0, 1},
  };
  for (const Expected& e : table) {
    const OptionInfo& info = option_info(e.option);
    EXPECT_STREQ(info.name, e.name);
    EXPECT_EQ(info.default_value, e.default_value) << e.name;
    EXPECT_EQ(info.min, e.min) << e.name;
    EXPECT_EQ(info.max, e.max) << e.name;
    EXPECT_GT(std::string(info.description).size(), 0u) << e.name;
  }
}

TEST(Options, DefaultsWithoutEnvironment) {
  unsetenv("HAKMEM_PURGE_DELAY_MS");
  options_reload();
  EXPECT_EQ(option_value(Option::kPurgeDelayMs), option_info(Option::kPurgeDelayMs).default_value);
}

TEST(Options, EnvironmentOverridesTheDefault) {
  setenv("HAKMEM_PURGE_DELAY_MS", "7", 1);
  options_reload();
  EXPECT_EQ(option_value(Option::kPurgeDelayMs), 7);
  unsetenv("HAKMEM_PURGE_DELAY_MS");
  options_reload();
}

TEST(Options, BadValuesWarnAndKeepTheDefault) {
  for (const char* bad : {"abc", "-1", "12x", "", "99999999999999999999"}) {
    setenv("HAKMEM_PURGE_DELAY_MS", bad, 1);
    testing::internal::CaptureStderr();
    options_reload();
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(option_value(Option::kPurgeDelayMs), option_info(Option::kPurgeDelayMs).default_value) << bad;
    EXPECT_NE(err.find("HAKMEM_PURGE_DELAY_MS"), std::string::npos) << bad << ": " << err;
    EXPECT_NE(err.find("warning"), std::string::npos) << err;
  }
  unsetenv("HAKMEM_PURGE_DELAY_MS");
  options_reload();
}

// Defect 8 of issue 11: loading options set errno to 0 whenever a HAKMEM_
// variable was set (strtoll needs errno cleared), so a malloc could clobber
// the errno a program was about to read. A load must leave errno alone,
// whether the values parse, are rejected, or are absent.
TEST(Options, LoadingLeavesErrnoAlone) {
  constexpr int kSentinel = 12345;
  for (const char* value : {"7", "abc", "99999999999999999999"}) {
    setenv("HAKMEM_PURGE_DELAY_MS", value, 1);
    testing::internal::CaptureStderr();  // the rejected values warn
    errno = kSentinel;
    options_reload();
    const int after = errno;
    testing::internal::GetCapturedStderr();
    EXPECT_EQ(after, kSentinel) << "HAKMEM_PURGE_DELAY_MS=" << value;
  }
  unsetenv("HAKMEM_PURGE_DELAY_MS");
  errno = kSentinel;
  options_reload();
  EXPECT_EQ(errno, kSentinel) << "no HAKMEM_PURGE_DELAY_MS";
}

// HAKMEM_LEARN takes a name or its number; anything else warns, lists
// the names and keeps the default; the dump shows the name.
TEST(Options, NamedValuesTakeANameOrItsNumber) {
  for (const auto& [text, value] : {std::pair{"off", 0}, {"rules", 1}, {"on", 2}, {"frozen", 3}, {"2", 2}}) {
    setenv("HAKMEM_LEARN", text, 1);
    options_reload();
    EXPECT_EQ(option_value(Option::kLearn), value) << text;
  }
  EXPECT_STREQ(option_value_name(Option::kLearn, 3), "frozen");
  EXPECT_STREQ(option_value_name(Option::kLearn, 0), "off");
  EXPECT_EQ(option_value_name(Option::kLearn, 4), nullptr);
  EXPECT_EQ(option_value_name(Option::kPurgeDelayMs, 0), nullptr);
  testing::internal::CaptureStderr();
  options_dump();
  EXPECT_NE(testing::internal::GetCapturedStderr().find("HAKMEM_LEARN" + std::string(12, ' ') + " = on       (environment)"),
            std::string::npos);
  for (const char* bad : {"On", "o", "onn", "4", "rules|on", ""}) {
    setenv("HAKMEM_LEARN", bad, 1);
    testing::internal::CaptureStderr();
    options_reload();
    const std::string err = testing::internal::GetCapturedStderr();
    EXPECT_EQ(option_value(Option::kLearn), 0) << bad;
    EXPECT_NE(err.find("warning: HAKMEM_LEARN='" + std::string(bad) + "' is none of off|rules|on|frozen (or 0-3); "
                       "using the default off"),
              std::string::npos)
        << err;
  }
  unsetenv("HAKMEM_LEARN");
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
