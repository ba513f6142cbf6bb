// What Swift cannot spell, from the CIntrinsics C target: a software prefetch for the kernels,
// cpuid/xgetbv and arm64 hardware capabilities for `CPUInfo`, and multiply-add loops for the
// peak measurement. The only Swift file that imports CIntrinsics.

import CIntrinsics

/// Hints that the cache line at `p` will be read soon. A hint only: never faults, no effect on results.
@inline(__always)
func prefetch(_ p: UnsafeRawPointer) { bridge_prefetch(p) }

enum Intrinsics {
    /// (eax, ebx, ecx, edx) of cpuid(leaf, subleaf), nil where there is none or the leaf is unsupported.
    static func cpuid(_ leaf: UInt32, _ subleaf: UInt32 = 0) -> (UInt32, UInt32, UInt32, UInt32)? {
        var r: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
        let ok = withUnsafeMutableBytes(of: &r) { bridge_cpuid(leaf, subleaf, $0.baseAddress!.assumingMemoryBound(to: UInt32.self)) }
        return ok != 0 ? r : nil
    }

    static var xcr0: UInt64 { bridge_xgetbv0() }
    static var hwcap: (UInt64, UInt64) { (bridge_hwcap(), bridge_hwcap2()) }

    enum VectorWidth { case avx2, avx512 }

    /// Flops done by `iterations` rounds of the multiply-add loop of that width (0 off x86-64).
    static func fmaLoop(_ width: VectorWidth, iterations: Int) -> Double {
        switch width {
        case .avx2: bridge_fma_loop_avx2(iterations)
        case .avx512: bridge_fma_loop_avx512(iterations)
        }
    }
}
