"""allocator_binaries(): one binary per allocator from the same sources."""

load("//variants:registry.bzl", "HAKMEM_VARIANTS")

# Every workload source, and the settle step's request. Each is compiled
# once per allocator, into that allocator's driver.
WORKLOAD_SRCS = [
    "growth.cc",
    "larson.cc",
    "live_blocks.h",
    "mid_churn.cc",
    "mixed_lifo.cc",
    "phase_change.cc",
    "producer_consumer.cc",
    "random_free.cc",
    "registry.cc",
    "settle_request.cc",
    "settle_request.h",
    "soak.cc",
    "soak_model.h",
]

# The shared library of each system allocator: what its linked driver
# loads, and what preload mode and the program suite LD_PRELOAD ("" for
# glibc: nothing to preload).
SYSTEM_LIBRARIES = {
    "glibc": "",
    "jemalloc": "/usr/lib/x86_64-linux-gnu/libjemalloc.so.2",
    "tcmalloc": "/usr/lib/x86_64-linux-gnu/libtcmalloc_minimal.so.4",
    "mimalloc": "/usr/lib/x86_64-linux-gnu/libmimalloc.so.2",
}

# The system allocators the lab compares against, and how to link each.
SYSTEM_ALLOCATORS = {
    "glibc": [],
    "jemalloc": ["@system//:jemalloc"],
    "tcmalloc": ["@system//:tcmalloc"],
    "mimalloc": ["@system//:mimalloc"],
}

def allocator_binaries(prefix, srcs, deps = [], only = None, test_hooks = False, **kwargs):
    """<prefix><allocator> for every hakmem variant and system allocator.

    `srcs` include "lab/allocator.h", which is the variant's inline API
    (//workloads:hakmem_adapter + //variants:<v>_this) or plain malloc/free
    linked against the peer (//workloads:system_adapter + its library).
    `only` limits the allocators; `test_hooks` compiles the test-only hooks
    in (LAB_TEST_HOOKS=1; such binaries must be testonly).
    """
    mode = ['LAB_COMPILATION_MODE=\\"$(COMPILATION_MODE)\\"']
    if test_hooks:
        mode.append("LAB_TEST_HOOKS=1")
    for variant in HAKMEM_VARIANTS:
        if only != None and variant not in only:
            continue
        native.cc_binary(
            name = prefix + variant,
            srcs = srcs,
            local_defines = mode,
            deps = ["//workloads:hakmem_adapter", "//variants:%s_this" % variant] + deps,
            **kwargs
        )
    for allocator, link_deps in SYSTEM_ALLOCATORS.items():
        if only != None and allocator not in only:
            continue
        native.cc_binary(
            name = prefix + allocator,
            srcs = srcs,
            local_defines = mode + ['LAB_ALLOCATOR_NAME=\\"%s\\"' % allocator],
            deps = ["//workloads:system_adapter"] + link_deps + deps,
            **kwargs
        )
