"""The hakmem variants. Adding a variant: write variants/<name>.h with its
policy type (see ultra_simple.h and allocator/frontend/front_end.h), then
add one line here. Every package that builds per-variant targets (variants:
library and conformance tests; workloads: drivers; harness: microbenchmarks
and the compare matrix) reads this list."""

# name -> policy type, in namespace hakmem::variants, defined in variants/<name>.h.
HAKMEM_VARIANTS = {
    "ultra_simple": "UltraSimple",
}
