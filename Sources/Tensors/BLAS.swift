// The BLAS boundary: the only Swift file that imports COpenBLAS. Row-major sgemm with optional
// transposes (C = alpha·op(A)·op(B) + beta·C). OpenBLAS threads large products itself (measured
// faster than splitting them over our threads); code that calls sgemm from several of our own
// threads at once (batch-split workers, per-head attention) runs inside `singleThreaded`.
//
// OpenBLAS is opened at first use (COpenBLAS.h says why), with its kernel checked against what
// the CPU can do: when OpenBLAS chose a weaker one (a CPU model newer than its release falls
// back to SSE3 `Prescott`) and the user has not set OPENBLAS_CORETYPE, it is opened again with
// the kernel the CPU's features call for (`CPUInfo.openBLASKernel`). A user's own
// OPENBLAS_CORETYPE always wins. `BLAS.kernel` says what happened.

import COpenBLAS

/// Which OpenBLAS kernel is in use, and how it came to be.
public struct BLASKernel: Sendable {
    /// The library file or name loaded.
    public let library: String
    /// `openblas_get_config()`: version and build options.
    public let config: String
    /// The kernel in use (`openblas_get_corename()`).
    public let name: String
    /// What OpenBLAS chose on its own, when bridge looked (nil when the user chose).
    public let openBLASChoice: String?
    /// The user's OPENBLAS_CORETYPE, when set.
    public let userSetting: String?
    /// The kernel the CPU's features call for (nil: nothing to ask for, e.g. arm64).
    public let wanted: String?
    /// True when bridge replaced OpenBLAS's own choice.
    public let corrected: Bool
    /// A problem correcting, if any (the library could not be unloaded, the build lacks the kernel).
    public let problem: String?

    /// True when the kernel in use is weaker than the one the CPU's features call for.
    public var isWeakerThanCPU: Bool {
        guard let wanted, let want = BLASKernel.tier(wanted), let have = BLASKernel.tier(name) else { return false }
        return have < want
    }

    /// One line for benchmarks and logs: "Cooperlake (corrected from Prescott)".
    public var summary: String {
        if corrected, let from = openBLASChoice { return "\(name) (corrected from \(from))" }
        if userSetting != nil { return "\(name) (OPENBLAS_CORETYPE set by the user)" }
        return name
    }

    /// The instruction-set tier of an OpenBLAS x86-64 kernel name: 0 SSE, 1 AVX, 2 AVX2+FMA,
    /// 3 AVX-512, 4 AVX-512 with BF16; nil for a name we do not know (a newer OpenBLAS knows best).
    public static func tier(_ kernel: String) -> Int? {
        switch kernel.lowercased() {
        case "cooperlake", "sapphirerapids": 4
        case "skylakex": 3
        case "haswell", "zen": 2
        case "sandybridge", "bulldozer", "piledriver", "steamroller", "excavator": 1
        case "prescott", "core2", "penryn", "dunnington", "nehalem", "atom", "opteron", "opteron(sse3)",
             "barcelona", "nano", "bobcat", "katmai", "coppermine", "northwood", "banias", "athlon", "generic": 0
        default: nil
        }
    }
}

/// OpenBLAS could not be loaded.
public struct BLASLoadError: Error, CustomStringConvertible {
    public let description: String
}

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
        ensureLoaded()
        bridge_cblas_sgemm(Int32(BRIDGE_CBLAS_ROW_MAJOR),
                           Int32(transA ? BRIDGE_CBLAS_TRANS : BRIDGE_CBLAS_NO_TRANS),
                           Int32(transB ? BRIDGE_CBLAS_TRANS : BRIDGE_CBLAS_NO_TRANS),
                           Int32(m), Int32(n), Int32(k), alpha, a, Int32(lda), b, Int32(ldb), beta, c, Int32(ldc))
    }

    /// The kernel in use; loads OpenBLAS if nothing has yet. Throws when it cannot be loaded.
    public static func kernel() throws -> BLASKernel { try loaded.get() }

    /// Runs body with OpenBLAS limited to one thread per call (for sgemm calls made from several
    /// threads of our own at once), then restores the thread count. Sections may nest and overlap
    /// across threads: the count is restored when the last one ends.
    public static func singleThreaded<R>(_ body: () throws -> R) rethrows -> R {
        ensureLoaded()
        threadState.withLock { s in
            if s.singleSections == 0 {
                s.savedThreads = bridge_openblas_get_num_threads()
                if s.savedThreads != 1 { bridge_openblas_set_num_threads(1) }
            }
            s.singleSections += 1
        }
        defer {
            threadState.withLock { s in
                s.singleSections -= 1
                if s.singleSections == 0 && s.savedThreads != 1 { bridge_openblas_set_num_threads(s.savedThreads) }
            }
        }
        return try body()
    }

    /// Threads OpenBLAS uses for one call (outside single-threaded sections).
    public static var threads: Int {
        get {
            ensureLoaded()
            return threadState.withLock { s in Int(s.singleSections > 0 ? s.savedThreads : bridge_openblas_get_num_threads()) }
        }
        set {
            ensureLoaded()
            threadState.withLock { s in
                if s.singleSections > 0 { s.savedThreads = Int32(newValue) } else { bridge_openblas_set_num_threads(Int32(newValue)) }
            }
        }
    }

    /// Single-threaded sections open, and the thread count to restore when the last one ends.
    private struct ThreadState {
        var singleSections = 0
        var savedThreads: Int32 = 1
    }
    private static let threadState = Locked(ThreadState())

    @usableFromInline static func ensureLoaded() {
        if case .failure(let error) = loaded { fatalError("\(error)") }
    }

    /// Loaded once per process (a static let is initialised exactly once, thread-safely).
    private static let loaded: Result<BLASKernel, BLASLoadError> = load(cpu: .current, user: userCoreType())

    private static func userCoreType() -> String? {
        guard let p = getenv("OPENBLAS_CORETYPE") else { return nil }
        let value = String(cString: p)
        return value.isEmpty ? nil : value
    }

    private static func open(_ coretype: String?) -> Result<Void, BLASLoadError> {
        var message = [CChar](repeating: 0, count: 512)
        if bridge_blas_open(coretype, &message, message.count) != 0 { return .failure(BLASLoadError(description: String(decoding: message.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self))) }
        return .success(())
    }

    private static func load(cpu: CPUInfo, user: String?) -> Result<BLASKernel, BLASLoadError> {
        if case .failure(let e) = open(nil) { return .failure(e) }
        let wanted = cpu.openBLASKernel
        let first = String(cString: bridge_openblas_get_corename())
        var corrected = false, problem: String?
        if user == nil, let wanted, let want = BLASKernel.tier(wanted), let have = BLASKernel.tier(first), have < want {
            if bridge_blas_close() == 1 {
                if case .failure(let e) = open(wanted) { return .failure(e) }
                let now = String(cString: bridge_openblas_get_corename())
                corrected = now != first
                if now.lowercased() != wanted.lowercased() { problem = "asked OpenBLAS for \(wanted), it runs \(now) (its build may lack that kernel)" }
            } else {
                if case .failure(let e) = open(nil) { return .failure(e) }
                problem = "OpenBLAS could not be unloaded to switch to \(wanted); set OPENBLAS_CORETYPE=\(wanted)"
            }
        }
        bridge_openblas_set_num_threads(Int32(KernelThreads.count))
        return .success(BLASKernel(
            library: String(cString: bridge_blas_library()), config: String(cString: bridge_openblas_get_config()),
            name: String(cString: bridge_openblas_get_corename()), openBLASChoice: user == nil ? first : nil,
            userSetting: user, wanted: wanted, corrected: corrected, problem: problem))
    }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension BLASLoadError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}
