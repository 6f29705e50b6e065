// The knob file: what format_knobs writes, parse_knobs reads back exactly,
// and a bad file is refused with the line that is wrong.
#include "allocator/learn/knob_file.h"

#include <gtest/gtest.h>

#include <string>

namespace hakmem::learn {
namespace {

KnobBounds wide() {
  KnobBounds b{};
  b.tiny_cache_min = 1;
  b.tiny_cache_max = 4096;
  b.tiny_cache_bytes = uint64_t{1} << 30;
  b.mid_cache_max_kib = b.l25_cache_max_kib = b.large_cache_max_mib = 1 << 20;
  b.purge_delay_max_ms = 3'600'000;
  b.dwell_windows = 3;
  return b;
}

Knobs uneven() {
  Knobs k;
  for (unsigned c = 0; c < kTinyClasses; ++c) {
    k.tiny_cache[c] = 8 + 3 * c;
    k.tiny_refill[c] = 1 + c;
  }
  k.mid_cache_kib = 512;
  k.l25_cache_kib = 2048;
  k.large_cache_mib = 0;
  k.purge_delay_ms = 37;
  for (unsigned g = 0; g < kSuperSlabGroups; ++g) k.superslab_kib[g] = g % 2 == 0 ? 1024 : 2048;
  return k;
}

std::string formatted(const Knobs& k) {
  char text[kKnobFileMax];
  const size_t n = format_knobs(k, text, sizeof text);
  EXPECT_GT(n, 0u);
  return std::string(text, n);
}

std::string refusal(const std::string& text) {
  Knobs k = uneven();
  const Knobs before = k;
  char why[160] = "";
  EXPECT_FALSE(parse_knobs(text.c_str(), wide(), &k, why, sizeof why));
  EXPECT_EQ(k, before);
  return why;
}

TEST(KnobFileTest, WhatIsWrittenIsReadBackExactly) {
  Knobs read;
  char why[160] = "";
  ASSERT_TRUE(parse_knobs(formatted(uneven()).c_str(), wide(), &read, why, sizeof why)) << why;
  EXPECT_EQ(read, uneven());
}

TEST(KnobFileTest, CommentsBlankLinesAndAnyOrderAreAccepted) {
  const std::string text = formatted(uneven());
  const size_t second = text.find('\n') + 1;  // after the comment: the tiny_cache line first
  const std::string reordered = "\n# moved\n" + text.substr(text.find('\n', second) + 1) + text.substr(second, text.find('\n', second) + 1 - second);
  Knobs read;
  char why[160] = "";
  ASSERT_TRUE(parse_knobs(reordered.c_str(), wide(), &read, why, sizeof why)) << why;
  EXPECT_EQ(read, uneven());
}

TEST(KnobFileTest, ABufferTooSmallWritesNothing) {
  char text[64];
  EXPECT_EQ(format_knobs(uneven(), text, sizeof text), 0u);
  EXPECT_STREQ(text, "");
}

TEST(KnobFileTest, AnUnknownKnobIsNamedWithItsLine) {
  EXPECT_EQ(refusal(formatted(uneven()) + "magic 3\n"), "line 9: unknown knob 'magic'");
}

TEST(KnobFileTest, AMissingKnobIsNamed) {
  std::string text = formatted(uneven());
  const size_t at = text.find("purge_delay_ms");
  text.erase(at, text.find('\n', at) + 1 - at);
  EXPECT_EQ(refusal(text), "purge_delay_ms is missing");
}

TEST(KnobFileTest, ShortLongRepeatedAndNonNumericLinesAreRefused) {
  EXPECT_EQ(refusal(formatted(uneven()) + "mid_cache_kib 4\n"), "line 9: mid_cache_kib given twice");
  std::string text = formatted(uneven());
  text.replace(text.find("purge_delay_ms 37"), 17, "purge_delay_ms x");
  EXPECT_EQ(refusal(text), "line 7: purge_delay_ms needs 1 unsigned values, value 1 is missing or not a number");
  text = formatted(uneven());
  text.replace(text.find("purge_delay_ms 37"), 17, "purge_delay_ms 37 38");
  EXPECT_EQ(refusal(text), "line 7: purge_delay_ms has more than 1 values");
  text = formatted(uneven());
  text.replace(text.find("superslab_kib 1024"), 18, "superslab_kib");
  EXPECT_NE(refusal(text).find("superslab_kib needs"), std::string::npos);
}

TEST(KnobFileTest, ValuesOutsideTheBoundsAreRefused) {
  Knobs k = uneven();
  k.superslab_kib[0] = 4096;
  EXPECT_EQ(refusal(formatted(k)), "a value lies outside the bounds of the HAKMEM_LEARN_* options");
  k = uneven();
  k.tiny_refill[3] = k.tiny_cache[3] + 1;
  EXPECT_EQ(refusal(formatted(k)), "a value lies outside the bounds of the HAKMEM_LEARN_* options");
}

}  // namespace
}  // namespace hakmem::learn
