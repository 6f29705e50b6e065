"""lab_driver(): one workload driver per allocator."""

# Every workload source. Each is compiled once per allocator, into that
# allocator's driver.
WORKLOAD_SRCS = [
    "mixed_lifo.cc",
    "registry.cc",
]

# The system allocators the lab compares against, and how to link each.
SYSTEM_ALLOCATORS = {
    "glibc": [],
    "jemalloc": ["@system//:jemalloc"],
    "tcmalloc": ["@system//:tcmalloc"],
    "mimalloc": ["@system//:mimalloc"],
}

def _driver(name, allocator_name, adapter, deps, defines = []):
    native.cc_binary(
        name = name,
        srcs = ["driver_main.cc"] + WORKLOAD_SRCS,
        local_defines = defines + ['LAB_COMPILATION_MODE=\\"$(COMPILATION_MODE)\\"'],
        deps = [adapter, ":driver", ":workload_api", "//workloads/support"] + deps,
    )

def lab_driver_for_variant(variant):
    """driver_<variant>: the workloads on hakmem variant `variant`, inlined."""
    _driver(
        name = "driver_" + variant,
        allocator_name = variant,
        adapter = ":hakmem_adapter",
        deps = ["//variants:%s_this" % variant],
    )

def lab_driver_for_system(allocator, link_deps):
    """driver_<allocator>: the workloads on a system allocator via malloc/free."""
    _driver(
        name = "driver_" + allocator,
        allocator_name = allocator,
        adapter = ":system_adapter",
        deps = link_deps,
        defines = ['LAB_ALLOCATOR_NAME=\\"%s\\"' % allocator],
    )
