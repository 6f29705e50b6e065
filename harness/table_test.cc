// The console table's number formats.
#include "harness/table.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(FormatMops, OneDecimalFromOneMopsUpAndThreeSignificantDigitsBelow) {
  EXPECT_EQ(format_mops(123.44e6), "123.4");
  EXPECT_EQ(format_mops(1e6), "1.0");
  EXPECT_EQ(format_mops(805'080), "0.805");
  EXPECT_EQ(format_mops(52'576), "0.0526");
  EXPECT_EQ(format_mops(std::nullopt), "-");
}

TEST(FormatBytes, MiBWithOneDecimal) {
  EXPECT_EQ(format_bytes(1.5 * 1024 * 1024), "1.5 MiB");
  EXPECT_EQ(format_bytes(std::nullopt), "-");
}

}  // namespace
}  // namespace lab
