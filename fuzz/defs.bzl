"""hakmem_fuzzer(): the fuzz target of one variant, its corpus replay and its libFuzzer binary."""

def hakmem_fuzzer(variant):
    """For variant `variant` (variants/registry.bzl):

      :<variant>_fuzz_target  cc_library: api_fuzzer.cc (LLVMFuzzerTestOneInput)
                              compiled against the variant
      :<variant>_corpus_test  cc_test: replays fuzz/corpus/<variant>/ through the
                              target with replay_main.cc, under HAKMEM_DEBUG=2;
                              any compiler (gcc in `bazel test //...`), any config
                              (under --config=fuzz with libFuzzer's main)
      :<variant>_fuzzer       the libFuzzer binary (clang, -fsanitize=fuzzer,address):
                              `bazel build --config=fuzz //fuzz:<variant>_fuzzer`;
                              tagged manual so that //... leaves it out, and
                              without --config=fuzz it fails saying so
    """
    native.cc_library(
        name = variant + "_fuzz_target",
        srcs = ["api_fuzzer.cc"],
        deps = [
            ":input",
            ":shadow",
            "//allocator/override",
            "//variants:%s_this" % variant,
        ],
        alwayslink = True,
    )
    native.cc_test(
        name = variant + "_corpus_test",
        # Under --config=fuzz, libFuzzer's own main replays the corpus
        # (-runs=0: each input once, no fuzzing).
        srcs = select({
            ":libfuzzer": [],
            "//conditions:default": ["replay_main.cc"],
        }),
        args = select({
            ":libfuzzer": ["-runs=0"],
            "//conditions:default": [],
        }) + ["fuzz/corpus/" + variant],
        data = native.glob(["corpus/%s/*" % variant]),
        # The replay also verifies every touched slab and SuperSlab.
        env = {"HAKMEM_DEBUG": "2"},
        deps = [":%s_fuzz_target" % variant],
    )
    native.cc_binary(
        name = variant + "_fuzzer",
        srcs = select({
            ":libfuzzer": [],
            "//conditions:default": ["needs_config_fuzz.cc"],
        }),
        deps = [":%s_fuzz_target" % variant],
        tags = ["manual"],
    )
