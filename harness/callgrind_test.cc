#include "harness/callgrind.h"

#include <gtest/gtest.h>

namespace lab {
namespace {

TEST(Callgrind, ReadsTheTotalsLine) {
  EXPECT_EQ(callgrind_total_ir("version: 1\ncmd: x\nevents: Ir\nfn=main\n5 100\ntotals: 123456\n"), 123456u);
  EXPECT_EQ(callgrind_total_ir("events: Ir\nsummary: 999\n"), 999u);
  EXPECT_FALSE(callgrind_total_ir("events: Ir\n").has_value());
}

}  // namespace
}  // namespace lab
