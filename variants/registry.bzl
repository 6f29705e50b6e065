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
