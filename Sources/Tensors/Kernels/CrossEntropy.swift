// Cross-entropy of logits against target ids: loss[r] = logsumexp(logits[r,:]) − logits[r, target[r]].
// N rows, V vocabulary. A negative target (e.g. −100) marks a row without loss.

public enum CrossEntropy {
    public static func forward(losses: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                               n: Int, v: Int) {
        parallelChunks(n, minChunk: 4) { rows in
            for r in rows {
                guard targets[r] >= 0 else { losses[r] = 0; continue }
                let x = logits + r * v
                losses[r] = logSumExp(x, v) - x[Int(targets[r])]
            }
        }
    }

    /// logsumexp of one row, exp without storing.
    @inlinable
    public static func logSumExp(_ x: UnsafePointer<Float>, _ v: Int) -> Float {
        let m = VectorMath.max(x, v)
        var acc = SIMD16<Float>(repeating: 0)
        let shift = SIMD16<Float>(repeating: m)
        var i = 0
        while i + 16 <= v {
            acc += VectorMath.expNonPositive16(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - shift)
            i += 16
        }
        var sum = acc.sum()
        while i < v { sum += VectorMath.expNonPositive(x[i] - m); i += 1 }
        return m + Float(_log(Double(sum)))
    }

    /// Writes (not accumulates) dlogits = (softmax(logits) − onehot(target)) · dlosses[r]; rows
    /// without a target get zeros. `dlogits` may be the logits buffer itself (in place).
    /// `losses` are the forward values: logsumexp = loss + logit[target], so one pass suffices.
    public static func backward(dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                losses: UnsafePointer<Float>, dlosses: UnsafePointer<Float>, n: Int, v: Int) {
        parallelChunks(n, minChunk: 4) { rows in
            for r in rows {
                let dx = dlogits + r * v
                guard targets[r] >= 0 else { dx.update(repeating: 0, count: v); continue }
                let x = logits + r * v
                let target = Int(targets[r])
                let lse = losses[r] + x[target]
                let g = dlosses[r]
                let shift = SIMD16<Float>(repeating: lse), scale = SIMD16<Float>(repeating: g)
                var i = 0
                while i + 16 <= v {
                    let e = VectorMath.expNonPositive16(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) - shift)
                    UnsafeMutableRawPointer(dx + i).storeBytes(of: e * scale, as: SIMD16<Float>.self)
                    i += 16
                }
                while i < v { dx[i] = VectorMath.expNonPositive(x[i] - lse) * g; i += 1 }
                dx[target] -= g
            }
        }
    }

    // MARK: naive reference

    public static func forwardNaive(losses: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                    n: Int, v: Int) {
        for r in 0..<n {
            guard targets[r] >= 0 else { losses[r] = 0; continue }
            var m = -Double.infinity
            for i in 0..<v { m = Swift.max(m, Double(logits[r * v + i])) }
            var sum: Double = 0
            for i in 0..<v { sum += _exp(Double(logits[r * v + i]) - m) }
            losses[r] = Float(m + _log(sum) - Double(logits[r * v + Int(targets[r])]))
        }
    }

    public static func backwardNaive(dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                     dlosses: UnsafePointer<Float>, n: Int, v: Int) {
        var p = [Float](repeating: 0, count: v)
        for r in 0..<n {
            guard targets[r] >= 0 else { for i in 0..<v { dlogits[r * v + i] = 0 }; continue }
            p.withUnsafeMutableBufferPointer { Softmax.forwardNaive(out: $0.baseAddress!, inp: logits + r * v, rows: 1, cols: v) }
            for i in 0..<v {
                dlogits[r * v + i] = (p[i] - (i == Int(targets[r]) ? 1 : 0)) * dlosses[r]
            }
        }
    }
}
