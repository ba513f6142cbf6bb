// Compiler intrinsics Swift cannot spell: a software prefetch (Swift has no prefetch hint).
// Imported only by Sources/Tensors/Kernels/Prefetch.swift.
#ifndef BRIDGE_CINTRINSICS_H
#define BRIDGE_CINTRINSICS_H

/// Hints that the cache line holding `p` will be read soon (into all cache levels). Never faults.
static inline void bridge_prefetch(const void *p) { __builtin_prefetch(p, 0, 3); }

#endif
