"""The hakmem variants. Adding a variant: write variants/<name>.h defining
its allocator type (usually `using XAllocator = Allocator<X>;` for a
front-end policy X composed from allocator/frontend/ layers; see
ultra_simple.h), then add one line here. Every package that builds
per-variant targets (variants: library and conformance test; workloads:
driver; harness: microbenchmark and the compare matrix) reads this list."""

# name -> allocator type, in namespace hakmem::variants, defined in variants/<name>.h.
HAKMEM_VARIANTS = {
    "ultra_simple": "UltraSimpleAllocator",
    "magazine": "MagazineAllocator",
    "hot_mag": "HotMagAllocator",
    "bound": "BoundAllocator",
}

# Variants that cannot be a whole program's malloc, and why. Each gets no
# libhakmem_<name>.so: `bazel build //variants:libhakmem_<name>.so` prints
# the reason and fails. Bazel must know this when it reads the BUILD file
# (to leave that target out of :all and ...), before any C++ is compiled,
# so it is written here; the compiler holds it to the allocator type's own
# kLimits (VariantLimits::serves_any_program(), which needs every thread
# and every size): the library's source and each conformance test
# static_assert that the two agree, so neither can drift.
HAKMEM_NO_LIBRARY = {
    "bound": "bound is the speed-of-light reference, not an allocator: one thread, blocks up to 32 KiB, nothing returned (kLimits in variants/bound.h), so it cannot be a program's malloc and has no preload library",
}
