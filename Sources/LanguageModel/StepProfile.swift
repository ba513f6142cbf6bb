// Optional wall-clock accounting of the forward/backward phases (for `bench train --profile`).
// Off by default; when off each phase costs one branch.

import Dispatch

public enum StepProfile {
    nonisolated(unsafe) public static var enabled = false
    nonisolated(unsafe) public private(set) static var seconds: [String: Double] = [:]

    @inline(__always)
    static func measure<T>(_ name: String, _ body: () throws -> T) rethrows -> T {
        guard enabled else { return try body() }
        let start = DispatchTime.now().uptimeNanoseconds
        defer { seconds[name, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9 }
        return try body()
    }

    public static func reset() { seconds = [:] }
}
