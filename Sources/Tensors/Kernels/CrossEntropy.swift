// Cross-entropy of logits against target ids: loss[r] = logsumexp(s·logits[r,:]) − s·logits[r, target[r]]
// with s = 1/T the row's inverse temperature (1 unless `scales` is given: GRPO takes log-probs of
// logits/T, as TRL and the sampler do). N rows, V vocabulary. A negative target (e.g. −100) marks a
// row without loss. A row at s = 1 gets the same bits as an unscaled cross-entropy (x·1 = x exactly).

public enum CrossEntropy {
    public static func forward(losses: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                               n: Int, v: Int, scales: UnsafePointer<Float>? = nil) {
        parallelChunks(n, minChunk: 4) { rows in
            for r in rows {
                guard targets[r] >= 0 else { losses[r] = 0; continue }
                let x = logits + r * v
                let s = scales?[r] ?? 1
                losses[r] = logSumExp(x, v, scale: s) - s * x[Int(targets[r])]
            }
        }
    }

    /// logsumexp of s·x for one row (s > 0), exp without storing. With s = 1 every product is
    /// exact, so the unscaled row costs one multiply per element and keeps its bits.
    @inlinable
    public static func logSumExp(_ x: UnsafePointer<Float>, _ v: Int, scale s: Float = 1) -> Float {
        let m = VectorMath.max(x, v) * s
        var acc = SIMD16<Float>(repeating: 0)
        let shift = SIMD16<Float>(repeating: m), scale = SIMD16<Float>(repeating: s)
        var i = 0
        while i + 16 <= v {
            acc += VectorMath.expNonPositive16(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) * scale - shift)
            i += 16
        }
        var sum = acc.sum()
        while i < v { sum += VectorMath.expNonPositive(x[i] * s - m); i += 1 }
        return m + Float(_log(Double(sum)))
    }

    /// Writes (not accumulates) dlogits = (softmax(logits) − onehot(target)) · dlosses[r]; rows
    /// without a target get zeros. `dlogits` may be the logits buffer itself (in place).
    /// `losses` are the forward values: logsumexp = loss + logit[target], so one pass suffices.
    /// With `scales`, dlogits = (softmax(s·logits) − onehot(target)) · s · dlosses[r].
    public static func backward(dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                losses: UnsafePointer<Float>, dlosses: UnsafePointer<Float>, n: Int, v: Int,
                                scales: UnsafePointer<Float>? = nil) {
        parallelChunks(n, minChunk: 4) { rows in
            for r in rows {
                let dx = dlogits + r * v
                guard targets[r] >= 0 else { dx.update(repeating: 0, count: v); continue }
                let x = logits + r * v
                let target = Int(targets[r])
                let s = scales?[r] ?? 1
                let lse = losses[r] + s * x[target], g = dlosses[r] * s
                let shift = SIMD16<Float>(repeating: lse), scale = SIMD16<Float>(repeating: g), sv = SIMD16<Float>(repeating: s)
                var i = 0
                while i + 16 <= v {
                    let e = VectorMath.expNonPositive16(UnsafeRawPointer(x + i).loadUnaligned(as: SIMD16<Float>.self) * sv - shift)
                    UnsafeMutableRawPointer(dx + i).storeBytes(of: e * scale, as: SIMD16<Float>.self)
                    i += 16
                }
                while i < v { dx[i] = VectorMath.expNonPositive(x[i] * s - lse) * g; i += 1 }
                dx[target] -= g
            }
        }
    }

    // MARK: naive reference

    public static func forwardNaive(losses: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                    n: Int, v: Int, scales: UnsafePointer<Float>? = nil) {
        for r in 0..<n {
            guard targets[r] >= 0 else { losses[r] = 0; continue }
            let s = Double(scales?[r] ?? 1)
            var m = -Double.infinity
            for i in 0..<v { m = Swift.max(m, s * Double(logits[r * v + i])) }
            var sum: Double = 0
            for i in 0..<v { sum += _exp(s * Double(logits[r * v + i]) - m) }
            losses[r] = Float(m + _log(sum) - s * Double(logits[r * v + Int(targets[r])]))
        }
    }

    public static func backwardNaive(dlogits: UnsafeMutablePointer<Float>, logits: UnsafePointer<Float>, targets: UnsafePointer<Int32>,
                                     dlosses: UnsafePointer<Float>, n: Int, v: Int, scales: UnsafePointer<Float>? = nil) {
        var p = [Float](repeating: 0, count: v), scaled = [Float](repeating: 0, count: v)
        for r in 0..<n {
            guard targets[r] >= 0 else { for i in 0..<v { dlogits[r * v + i] = 0 }; continue }
            let s = scales?[r] ?? 1
            for i in 0..<v { scaled[i] = logits[r * v + i] * s }
            scaled.withUnsafeBufferPointer { x in
                p.withUnsafeMutableBufferPointer { Softmax.forwardNaive(out: $0.baseAddress!, inp: x.baseAddress!, rows: 1, cols: v) }
            }
            for i in 0..<v {
                dlogits[r * v + i] = (p[i] - (i == Int(targets[r]) ? 1 : 0)) * dlosses[r] * s
            }
        }
    }
}
