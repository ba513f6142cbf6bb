// The BLAS boundary: the only Swift file that imports COpenBLAS. Row-major sgemm with optional
// transposes (C = alpha·op(A)·op(B) + beta·C). OpenBLAS threads large products itself (measured
// faster than splitting them over our threads); code that calls sgemm from several of our own
// threads at once (per-head attention) runs inside `singleThreaded`.

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

    /// y[m] = alpha · op(A) · x + beta · y (row-major A [m,n], or [n,m] when transA).
    public static func sgemv(transA: Bool = false, rows: Int, cols: Int, alpha: Float = 1,
                             a: UnsafePointer<Float>, lda: Int, x: UnsafePointer<Float>,
                             beta: Float = 0, y: UnsafeMutablePointer<Float>) {
        if !configured { configure() }
        cblas_sgemv(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, blasint(rows), blasint(cols),
                    alpha, a, blasint(lda), x, 1, beta, y, 1)
    }

    /// Runs body with OpenBLAS limited to one thread per call (for sgemm calls made from several
    /// threads of our own at once), then restores the kernel thread count.
    public static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        if !configured { configure() }
        let saved = openblas_get_num_threads()
        if saved == 1 { return try body() }
        openblas_set_num_threads(1)
        defer { openblas_set_num_threads(saved) }
        return try body()
    }

    /// Threads OpenBLAS uses for one call.
    public static var threads: Int {
        get { Int(openblas_get_num_threads()) }
        set { openblas_set_num_threads(Int32(newValue)) }
    }

    /// Gives OpenBLAS the kernel thread count once, before the first product.
    nonisolated(unsafe) static var configured = false
    @usableFromInline static func configure() {
        if !configured { openblas_set_num_threads(Int32(KernelThreads.count)); configured = true }
    }
}
