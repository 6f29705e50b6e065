// Stands in for a fuzz target's sources when //fuzz:<variant>_fuzzer is
// built without --config=fuzz: libFuzzer needs clang (fuzz/defs.bzl).
#error "//fuzz:<variant>_fuzzer needs --config=fuzz (clang with -fsanitize=fuzzer,address): bazel build --config=fuzz //fuzz:<variant>_fuzzer"
