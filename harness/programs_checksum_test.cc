// The output checksum: FNV-1a 64 as published, fed in pieces, and framed so
// that only the same bytes in the same pieces give the same checksum.
#include "harness/programs_checksum.h"

#include <gtest/gtest.h>

#include <fstream>

namespace lab {
namespace {

uint64_t fnv(std::string_view text) {
  Fnv1a64 h;
  h.update(text);
  return h.value();
}

std::string write(const std::string& name, const std::string& text) {
  const std::string path = ::testing::TempDir() + "/" + name;
  std::ofstream(path, std::ios::binary) << text;
  return path;
}

TEST(Fnv1a64, MatchesThePublishedTestVectors) {
  EXPECT_EQ(fnv(""), 0xcbf29ce484222325ull);
  EXPECT_EQ(fnv("a"), 0xaf63dc4c8601ec8cull);
  EXPECT_EQ(fnv("foobar"), 0x85944171f73967e8ull);
}

TEST(Fnv1a64, PiecesHashLikeTheWhole) {
  Fnv1a64 h;
  h.update("foo");
  h.update("");
  h.update("bar");
  EXPECT_EQ(h.value(), fnv("foobar"));
}

TEST(OutputChecksum, IsFormattedForTheRecord) {
  EXPECT_EQ(format_checksum(0x0123456789abcdefull), "fnv1a64:0123456789abcdef");
  EXPECT_EQ(format_checksum(1), "fnv1a64:0000000000000001");
}

TEST(OutputChecksum, SameOutputSameChecksum) {
  const std::string file = write("same.o", std::string("\0\x01object", 8));
  std::string error;
  const auto a = output_checksum("hello\n", {file}, &error);
  const auto b = output_checksum("hello\n", {file}, &error);
  ASSERT_TRUE(a && b) << error;
  EXPECT_EQ(*a, *b);
  EXPECT_EQ(a->rfind("fnv1a64:", 0), 0u);
  EXPECT_EQ(a->size(), 8u + 16u);
}

TEST(OutputChecksum, OneChangedByteChangesIt) {
  std::string error;
  const auto a = output_checksum("hello\n", {write("a.o", "object-bytes")}, &error);
  const auto b = output_checksum("hello\n", {write("a.o", "object-bytez")}, &error);
  const auto c = output_checksum("hellp\n", {write("a.o", "object-bytes")}, &error);
  ASSERT_TRUE(a && b && c) << error;
  EXPECT_NE(*a, *b);
  EXPECT_NE(*a, *c);
}

TEST(OutputChecksum, BytesMovedBetweenPiecesChangeIt) {
  std::string error;
  const auto a = output_checksum("ab", {write("moved.o", "c")}, &error);
  const auto b = output_checksum("a", {write("moved.o", "bc")}, &error);
  const auto only_stdout = output_checksum("abc", {}, &error);
  ASSERT_TRUE(a && b && only_stdout) << error;
  EXPECT_NE(*a, *b);
  EXPECT_NE(*a, *only_stdout);
  EXPECT_NE(*only_stdout, format_checksum(fnv("abc"))) << "stdout is framed too";
}

TEST(OutputChecksum, FilesCountByNameAndOrder) {
  std::string error;
  const std::string x = write("x.o", "same"), y = write("y.o", "same");
  const auto xy = output_checksum("", {x, y}, &error);
  const auto yx = output_checksum("", {y, x}, &error);
  const auto xx = output_checksum("", {x, x}, &error);
  ASSERT_TRUE(xy && yx && xx) << error;
  EXPECT_NE(*xy, *yx);
  EXPECT_NE(*xy, *xx);
}

TEST(OutputChecksum, AMissingOutputFileIsAnErrorNamingIt) {
  std::string error;
  const std::string missing = ::testing::TempDir() + "/never-written.o";
  EXPECT_FALSE(output_checksum("out", {missing}, &error));
  EXPECT_NE(error.find(missing), std::string::npos) << error;
  EXPECT_EQ(error.find('\n'), std::string::npos) << "one line";
}

}  // namespace
}  // namespace lab
