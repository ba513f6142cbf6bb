// How many threads the non-BLAS kernels split their rows over, and the splitting helper.
// Work is cut into `KernelThreads.count` contiguous chunks (deterministic: a row's result never
// depends on the split) and run with `parallelFor`.

public enum KernelThreads {
    /// Threads for kernels (default: all cores). `bench --threads` and tests may lower it.
    nonisolated(unsafe) public static var count = defaultCount

    static let defaultCount: Int = {
        #if canImport(Glibc)
        return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
        #else
        return 1
        #endif
    }()
}

/// Runs body over contiguous chunks of 0..<n, in parallel when n ≥ minChunk·2 and threads > 1.
@inline(__always)
public func parallelChunks(_ n: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = min(KernelThreads.count, n / max(minChunk, 1))
    if threads <= 1 {
        if n > 0 { body(0..<n) }
        return
    }
    parallelFor(threads) { t in
        body((t * n / threads)..<((t + 1) * n / threads))
    }
}

#if canImport(Glibc)
import Glibc
#endif
