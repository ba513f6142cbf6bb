// Elementwise comparison of two float arrays with an absolute + relative tolerance; the report
// names the worst element so a failing test says where and by how much. Tests use `expectClose`.

import Testing

public struct Closeness: CustomStringConvertible, Sendable {
    public let count: Int
    public let maxAbsError: Double
    public let maxRelError: Double
    /// Index of the element with the largest error in units of its tolerance.
    public let worstIndex: Int
    public let worstActual: Double
    public let worstExpected: Double
    /// Largest |actual − expected| / (atol + rtol·|expected|); ≤ 1 passes.
    public let worstRatio: Double
    public let sizeMismatch: Bool

    public var ok: Bool { !sizeMismatch && worstRatio <= 1 }

    public var description: String {
        if sizeMismatch { return "size mismatch" }
        if count == 0 { return "empty" }
        return "worst [\(worstIndex)] actual \(worstActual) expected \(worstExpected) (ratio to tolerance \(worstRatio)); max abs \(maxAbsError), max rel \(maxRelError), n=\(count)"
    }
}

public func closeness<A: Collection, B: Collection>(_ actual: A, _ expected: B, rtol: Double, atol: Double) -> Closeness
where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
    let a = actual.map { Double($0) }, e = expected.map { Double($0) }
    guard a.count == e.count else {
        return Closeness(count: 0, maxAbsError: .infinity, maxRelError: .infinity, worstIndex: -1,
                         worstActual: 0, worstExpected: 0, worstRatio: .infinity, sizeMismatch: true)
    }
    var maxAbs = 0.0, maxRel = 0.0, worst = 0, ratio = 0.0
    for i in 0..<a.count {
        let d = abs(a[i] - e[i])
        // equal elements pass even with a zero tolerance (an all-zero tensor scaled by its own max)
        let r = d == 0 ? 0 : d.isNaN ? .infinity : d / (atol + rtol * abs(e[i]))
        maxAbs = max(maxAbs, d.isNaN ? .infinity : d)
        if e[i] != 0 { maxRel = max(maxRel, d / abs(e[i])) }
        if i == 0 || r > ratio { ratio = r; worst = i }
    }
    return Closeness(count: a.count, maxAbsError: maxAbs, maxRelError: maxRel, worstIndex: worst,
                     worstActual: a.isEmpty ? 0 : a[worst], worstExpected: e.isEmpty ? 0 : e[worst],
                     worstRatio: ratio, sizeMismatch: false)
}

/// Closeness with a tolerance scaled by the largest |expected| (for gradients, whose small
/// entries are dominated by rounding): |a − e| ≤ rtol · max|e| + atol.
public func closenessScaled<A: Collection, B: Collection>(_ actual: A, _ expected: B, rtol: Double, atol: Double = 1e-7) -> Closeness
where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
    let scale = expected.reduce(0.0) { max($0, abs(Double($1))) }
    return closeness(actual, expected, rtol: 0, atol: atol + rtol * scale)
}

/// Expects `actual` to equal `expected` up to rounding, measured against the scale of the whole
/// expected tensor: |a − e| ≤ rtol · max|e| + atol for every element (NumPy's assert_allclose
/// with the tolerance scaled to the data, llm.c's per-tensor check). Element-wise relative
/// tolerances fail near zero on one BLAS kernel and pass on another; this holds on every kernel.
/// A failure names the worst element and by how much it missed.
public func expectClose<A: Collection, B: Collection>(
    _ actual: A, _ expected: B, rtol: Double, atol: Double = 0, _ label: @autoclosure () -> String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) where A.Element: BinaryFloatingPoint, B.Element: BinaryFloatingPoint {
    let c = closenessScaled(actual, expected, rtol: rtol, atol: atol)
    let what = label()
    #expect(c.ok, "\(what.isEmpty ? "" : what + ": ")\(c)", sourceLocation: sourceLocation)
}
