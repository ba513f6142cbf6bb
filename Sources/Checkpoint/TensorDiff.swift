// Comparing two tensor sets tensor by tensor: identical (same object ids), changed (with L2 norm
// of the difference, relative change ‖A−B‖/‖A‖, max |A−B| and cosine similarity, computed in
// f64), or present in only one; plus the bytes the two sets share in the store.

import ShardStore
import Tensors

public struct TensorDelta: Sendable {
    public enum Status: String, Sendable { case identical, changed, onlyA = "only_a", onlyB = "only_b" }

    public let name: String
    public let status: Status
    public var dtype: String? = nil
    public var shapeA: [Int]? = nil
    public var shapeB: [Int]? = nil
    public var bytes = 0
    public var l2Diff: Double? = nil
    public var relChange: Double? = nil
    public var maxAbsDiff: Double? = nil
    public var cosine: Double? = nil
    /// Elements that differ (integer and bool tensors, or any dtype/shape pair that cannot be compared numerically).
    public var differingElements: Int? = nil
    public var note: String? = nil
}

public struct SetDiff: Sendable {
    public var tensors: [TensorDelta]
    /// Bytes of data objects present in both sets (each unique object counted once).
    public var sharedBytes: Int
    public var bytesA: Int
    public var bytesB: Int
}

/// Running sums for difference statistics, in f64.
struct DiffAccumulator {
    var sumA2 = 0.0, sumB2 = 0.0, sumAB = 0.0, sumD2 = 0.0, maxAbs = 0.0, differing = 0

    mutating func add(_ a: Double, _ b: Double) {
        let d = a - b
        sumA2 += a * a
        sumB2 += b * b
        sumAB += a * b
        sumD2 += d * d
        let ad = abs(d)
        if ad > maxAbs || ad.isNaN { maxAbs = ad }
        if a != b { differing += 1 }
    }

    mutating func merge(_ o: DiffAccumulator) {
        sumA2 += o.sumA2; sumB2 += o.sumB2; sumAB += o.sumAB; sumD2 += o.sumD2
        maxAbs = max(maxAbs, o.maxAbs); differing += o.differing
    }
}

extension Store {
    public func diff(_ a: TensorSet, _ b: TensorSet, verify: Bool = true) throws -> SetDiff {
        let names = Set(a.tensors.map(\.name)).union(b.tensors.map(\.name)).sorted()
        var deltas = [TensorDelta?](repeating: nil, count: names.count)
        var toCompare: [(Int, TensorEntry, TensorEntry)] = []
        for (i, name) in names.enumerated() {
            let ea = a.entry(name), eb = b.entry(name)
            switch (ea, eb) {
            case let (x?, nil):
                deltas[i] = TensorDelta(name: name, status: .onlyA, dtype: x.dtype.rawValue, shapeA: x.shape, bytes: x.byteCount)
            case let (nil, y?):
                deltas[i] = TensorDelta(name: name, status: .onlyB, dtype: y.dtype.rawValue, shapeB: y.shape, bytes: y.byteCount)
            case let (x?, y?):
                if x.dtype == y.dtype, x.shape == y.shape, x.chunks == y.chunks {
                    deltas[i] = TensorDelta(name: name, status: .identical, dtype: x.dtype.rawValue, shapeA: x.shape, shapeB: y.shape, bytes: x.byteCount)
                } else {
                    toCompare.append((i, x, y))
                }
            case (nil, nil):
                break
            }
        }
        for (i, x, y) in toCompare {
            deltas[i] = try compare(x, y, verify: verify)
        }
        let idsA = Dictionary(a.tensors.flatMap(\.chunks).map { ($0.id, $0.bytes) }, uniquingKeysWith: { p, _ in p })
        let idsB = Set(b.tensors.flatMap(\.chunks).map(\.id))
        let shared = idsA.filter { idsB.contains($0.key) }.values.reduce(0, +)
        return SetDiff(tensors: deltas.compactMap { $0 }, sharedBytes: shared, bytesA: a.byteCount, bytesB: b.byteCount)
    }

    func compare(_ x: TensorEntry, _ y: TensorEntry, verify: Bool) throws -> TensorDelta {
        var d = TensorDelta(name: x.name, status: .changed, dtype: x.dtype == y.dtype ? x.dtype.rawValue : "\(x.dtype.rawValue)/\(y.dtype.rawValue)",
                            shapeA: x.shape, shapeB: y.shape, bytes: max(x.byteCount, y.byteCount))
        guard x.shape == y.shape else {
            d.note = "shapes differ"
            return d
        }
        let tb = try loadTensor(y, verify: verify)
        let ta = try loadTensor(x, verify: verify, deltaBase: (y, tb))
        let acc = accumulate(ta, tb)
        if x.dtype.isFloatingPoint && y.dtype.isFloatingPoint {
            d.l2Diff = acc.sumD2.squareRoot()
            d.relChange = acc.sumA2 > 0 ? (acc.sumD2 / acc.sumA2).squareRoot() : (acc.sumD2 > 0 ? .infinity : 0)
            d.maxAbsDiff = acc.maxAbs
            d.cosine = acc.sumA2 > 0 && acc.sumB2 > 0 ? acc.sumAB / (acc.sumA2.squareRoot() * acc.sumB2.squareRoot()) : nil
        } else {
            d.maxAbsDiff = acc.maxAbs
        }
        d.differingElements = acc.differing
        return d
    }

    /// Statistics over all elements, split across the cores.
    func accumulate(_ a: Tensor, _ b: Tensor) -> DiffAccumulator {
        let n = a.elementCount
        if a.dtype == .f32 && b.dtype == .f32 {
            let parts = n < 1 << 16 ? 1 : 8
            let partials = Locked<[DiffAccumulator]>([])
            a.buffer.withUnsafeBytes { ra in
                b.buffer.withUnsafeBytes { rb in
                    let pa = ra.bindMemory(to: Float.self), pb = rb.bindMemory(to: Float.self)
                    parallelFor(parts) { p in
                        var acc = DiffAccumulator()
                        let lo = n * p / parts, hi = n * (p + 1) / parts
                        for i in lo..<hi { acc.add(Double(pa[i]), Double(pb[i])) }
                        partials.withLock { $0.append(acc) }
                    }
                }
            }
            return partials.withLock { $0.reduce(into: DiffAccumulator()) { $0.merge($1) } }
        }
        var valuesB = [Double](repeating: 0, count: n)
        b.forEachDouble { i, v in valuesB[i] = v }
        var acc = DiffAccumulator()
        a.forEachDouble { i, v in acc.add(v, valuesB[i]) }
        return acc
    }
}
