// Short measurements of what the machine computes, for `bridge doctor` and the benchmarks: the
// peak of a core's vector multiply-add units (a register-only loop, so memory plays no part) and
// what OpenBLAS's sgemm reaches on square products. Speed is reported, never asserted.

import Foundation

public enum Throughput {
    /// Peak single-precision GFLOP/s of `threads` cores running the widest multiply-add this CPU
    /// has (AVX-512 or AVX2+FMA) on all of them at once; nil where there is no such loop (arm64).
    public static func fmaPeak(threads: Int = KernelThreads.count, cpu: CPUInfo = .current) -> Double? {
        guard let width = cpu.fmaWidth else { return nil }
        let iterations = 2_000_000
        _ = Intrinsics.fmaLoop(width, iterations: iterations / 10)   // wake the cores
        var best = 0.0
        for _ in 0..<3 {
            var flops = [Double](repeating: 0, count: threads)
            let start = DispatchTime.now().uptimeNanoseconds
            flops.withUnsafeMutableBufferPointer { out in
                let out = UncheckedSendableBox(out)
                parallelFor(threads) { t in out.value[t] = Intrinsics.fmaLoop(width, iterations: iterations) }
            }
            let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            best = max(best, flops.reduce(0, +) / seconds / 1e9)
        }
        return best
    }

    /// GFLOP/s of sgemm on n×n matrices (2n³ flops per product), the best of `repeats` after a warm-up.
    public static func sgemm(n: Int, repeats: Int = 5) -> Double {
        var a = [Float](repeating: 0, count: n * n), b = a, c = a
        for i in 0..<(n * n) {
            a[i] = Float((i * 7) % 13) / 13 - 0.5
            b[i] = Float((i * 5) % 11) / 11 - 0.5
        }
        var best = 0.0
        a.withUnsafeBufferPointer { pa in
            b.withUnsafeBufferPointer { pb in
                c.withUnsafeMutableBufferPointer { pc in
                    for round in 0...repeats {
                        let start = DispatchTime.now().uptimeNanoseconds
                        BLAS.sgemm(m: n, n: n, k: n, a: pa.baseAddress!, lda: n, b: pb.baseAddress!, ldb: n,
                                   c: pc.baseAddress!, ldc: n)
                        let seconds = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
                        if round > 0 { best = max(best, 2 * Double(n * n * n) / seconds / 1e9) }
                    }
                }
            }
        }
        return best
    }
}
