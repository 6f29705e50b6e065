"""preload_tests(): the tests of one variant's libhakmem_<variant>.so."""

# Tag of every test that runs a program with a library preloaded, or the
# malloc semantics suite on glibc: --config=asan leaves them out
# (.bazelrc). Under a sanitizer its runtime must come first in the process
# and is the malloc there, so nothing can be preloaded, and the suite's
# impossible requests on purpose abort in ASan's malloc. (They skip
# themselves under a sanitizer too, so a --config=tsan run passes them.)
PRELOAD_TAGS = ["preload"]

# One program per start-up trap, traps/<name>.c (startup_test.cc lists them too).
TRAPS = [
    "nothing_before_preinit",
    "free_null",
    "free_foreign",
    "realloc_first",
    "posix_memalign_first",
    "memalign_first",
    "calloc_first",
    "usable_size_first",
    "dlsym_first",
    "pthread_create_first",
]

# The suites that take the library under test as their one argument
# (library_arg_main.cc), each <suite>_test.cc: suite -> the programs it
# runs beside the library. All but symbols preload it.
LIBRARY_SUITES = {
    "symbols": [],
    "startup": [":traps/" + t for t in TRAPS] + [":atexit_probe"],
    "stats": [":stats_probe"],
    "teardown": [":teardown_probe"],
    "fork": [":fork_storm"],
}

def preload_tests(variant):
    """For //variants:libhakmem_<variant>.so:

      :<variant>_symbols_test          nm -D: every name defined, aliases at their targets
      :<variant>_malloc_semantics_test the semantics suite with the library preloaded
      :<variant>_startup_test          every start-up trap with the library preloaded
      :<variant>_stats_test            HAKMEM_STATS and malloc_stats with it preloaded
      :<variant>_teardown_test         heaps and slabs bounded over 100 exiting threads
      :<variant>_fork_test             the fork storm: no child hangs

    All but the symbols test preload the library (PRELOAD_TAGS).
    """
    library = "//variants:libhakmem_%s.so" % variant
    native.cc_test(
        name = variant + "_malloc_semantics_test",
        tags = PRELOAD_TAGS,
        args = [
            "$(rootpath %s)" % library,
            "$(rootpath :malloc_semantics)",
        ],
        data = [
            library,
            ":malloc_semantics",
        ],
        size = "medium",
        deps = [":run_preloaded"],
    )
    for suite, programs in LIBRARY_SUITES.items():
        native.cc_test(
            name = "%s_%s_test" % (variant, suite),
            tags = [] if suite == "symbols" else PRELOAD_TAGS,
            args = ["$(rootpath %s)" % library],
            data = [library] + programs,
            deps = [":%s_test_main" % suite],
        )
