// The BLAS boundary: the only Swift file that imports COpenBLAS. Row-major sgemm with optional
// transposes (C = alpha·op(A)·op(B) + beta·C). OpenBLAS threads large products itself (measured
// faster than splitting them over our threads); code that calls sgemm from several of our own
// threads at once (batch-split workers, per-head attention) runs inside `singleThreaded`.

import COpenBLAS

public enum BLAS {
    /// C[m,n] = alpha · op(A)[m,k] · op(B)[k,n] + beta · C, row-major; lda/ldb/ldc are row strides
    /// of A, B, C as stored (A is [k,m] when transA).
    @inlinable
    public static func sgemm(transA: Bool = false, transB: Bool = false,
                             m: Int, n: Int, k: Int,
                             alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int,
                             b: UnsafePointer<Float>, ldb: Int,
                             beta: Float = 0,
                             c: UnsafeMutablePointer<Float>, ldc: Int) {
        if m == 0 || n == 0 { return }
        sgemmRaw(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
    }

    @usableFromInline
    static func sgemmRaw(_ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
                         _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
                         _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int) {
        if !configured { configure() }
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                    blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb),
                    beta, c, blasint(ldc))
    }

    /// Runs body with OpenBLAS limited to one thread per call (for sgemm calls made from several
    /// threads of our own at once), then restores the thread count. Sections may nest and overlap
    /// across threads: the count is restored when the last one ends.
    public static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        if !configured { configure() }
        lock.withLock {
            if singleSections == 0 {
                savedThreads = openblas_get_num_threads()
                if savedThreads != 1 { openblas_set_num_threads(1) }
            }
            singleSections += 1
        }
        defer {
            lock.withLock {
                singleSections -= 1
                if singleSections == 0 && savedThreads != 1 { openblas_set_num_threads(savedThreads) }
            }
        }
        return try body()
    }

    /// Threads OpenBLAS uses for one call (outside single-threaded sections).
    public static var threads: Int {
        get { lock.withLock { Int(singleSections > 0 ? savedThreads : openblas_get_num_threads()) } }
        set {
            if !configured { configure() }
            lock.withLock {
                if singleSections > 0 { savedThreads = Int32(newValue) } else { openblas_set_num_threads(Int32(newValue)) }
            }
        }
    }

    private static let lock = NSLockLite()
    nonisolated(unsafe) private static var singleSections = 0
    nonisolated(unsafe) private static var savedThreads: Int32 = 1

    /// Gives OpenBLAS the kernel thread count once, before the first product.
    nonisolated(unsafe) static var configured = false
    @usableFromInline static func configure() {
        if !configured { openblas_set_num_threads(Int32(KernelThreads.count)); configured = true }
    }
}
