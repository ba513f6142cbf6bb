// How many threads the non-BLAS kernels split their work over, and the splitting helper.
// Work is cut into contiguous chunks run with `parallelFor`; every kernel computes an element the
// same way whatever the split, so results never depend on the thread count. A thread may lower its
// own budget (`KernelThreads.limit`): the iterations of `parallelFor` and the workers of
// `parallelWorkers` run with a budget of one, so kernels called there never nest parallel loops.

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

    /// The budget of the calling thread: its own limit when one is set, else `count`.
    @inlinable
    public static var available: Int {
        let local = Int(bitPattern: pthread_getspecific(budgetKey))
        return local > 0 ? local : count
    }

    /// Runs body with the calling thread's kernel budget set to `threads` (≥ 1), then restores it.
    public static func limit<R>(to threads: Int, _ body: () throws -> R) rethrows -> R {
        let saved = pthread_getspecific(budgetKey)
        pthread_setspecific(budgetKey, UnsafeRawPointer(bitPattern: max(1, threads)))
        defer { pthread_setspecific(budgetKey, saved) }
        return try body()
    }

    @usableFromInline static let budgetKey: pthread_key_t = {
        var key = pthread_key_t()
        pthread_key_create(&key, nil)
        return key
    }()
}

/// Runs body over contiguous chunks of 0..<n, in parallel when n ≥ minChunk·2 and the calling
/// thread's budget allows more than one thread (on spinning helpers inside `HotThreads.run`).
@inline(__always)
public func parallelChunks(_ n: Int, minChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let threads = min(KernelThreads.available, n / max(minChunk, 1))
    if threads <= 1 {
        if n > 0 { body(0..<n) }
        return
    }
    if let team = HotThreads.current {
        // up to 4 chunks per thread, claimed as threads become free
        let chunks = min(n / max(minChunk, 1), 4 * threads)
        team.parallel(chunks) { c in body((c * n / chunks)..<((c + 1) * n / chunks)) }
        return
    }
    // up to 4 chunks per thread, claimed as threads become free
    let chunks = min(n / max(minChunk, 1), 4 * threads)
    let next = UncheckedSendableBox(AtomicCounter())
    parallelFor(threads) { _ in
        while true {
            let c = next.value.value.wrappingAdd(1, ordering: .relaxed).oldValue
            if c >= chunks { return }
            body((c * n / chunks)..<((c + 1) * n / chunks))
        }
    }
}

import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
