// Optional wall-clock accounting of the forward/backward phases (for `bench --profile`).
// Off by default; when off each phase costs one branch. Workers add their own time, so with
// several workers a phase's total is thread-time, not wall time.

import Dispatch
import Tensors

public enum StepProfile {
    nonisolated(unsafe) public static var enabled = false
    private static let totals = Locked<[String: Double]>([:])

    public static var seconds: [String: Double] { totals.withLock { $0 } }

    @inline(__always)
    public static func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer {
            let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
            totals.withLock { $0[name, default: 0] += s }
        }
        return try body()
    }

    /// Adds the time since `start` (an uptime in nanoseconds) to `name`.
    static func add(_ name: String, since start: UInt64) {
        let s = Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        totals.withLock { $0[name, default: 0] += s }
    }

    static var now: UInt64 { DispatchTime.now().uptimeNanoseconds }

    public static func reset() { totals.withLock { $0 = [:] } }
}
