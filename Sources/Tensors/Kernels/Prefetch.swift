// Software prefetch for kernels that stream memory faster than the hardware prefetchers follow
// (the skinny products of decoding). The only Swift file that imports CIntrinsics.

import CIntrinsics

/// Hints that the cache line at `p` will be read soon. A hint only: never faults, no effect on results.
@inline(__always)
func prefetch(_ p: UnsafeRawPointer) { bridge_prefetch(p) }
