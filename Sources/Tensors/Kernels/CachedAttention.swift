// Causal attention of new positions over one sequence's KV cache (inference), GQA, scale 1/sqrt(D).
// The cache is stored per KV head: keys transposed [Hkv, D, S] (a key's D values S apart, so the
// scores of 16 consecutive positions are one vector FMA per channel), values [Hkv, S, D]. S is the
// cache stride: capacity rounded up to 16. T new positions start..<start+T, L = start+T visible,
// Hq query heads (query head h reads KV head h / (Hq/Hkv)), D head dim; q/out [T, Hq·D].

public enum CachedAttention {
    /// Cache stride for a capacity: a multiple of 16 (whole vectors of positions).
    public static func stride(capacity: Int) -> Int { (capacity + 15) / 16 * 16 }

    /// Floats of scratch `forward` needs.
    public static func scratchCount(time T: Int, stride S: Int, heads: Int, kvHeads: Int) -> Int {
        max(T, heads / kvHeads) * S
    }

    /// Writes one position's keys and values (k, v: [Hkv·D]) into the cache at `position`.
    @inline(__always)
    public static func store(key: UnsafePointer<Float>, value: UnsafePointer<Float>, position p: Int,
                             keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>,
                             stride S: Int, kvHeads: Int, headDim D: Int) {
        for h in 0..<kvHeads {
            let kt = keys + h * D * S + p
            for d in 0..<D { kt[d * S] = key[h * D + d] }
            (values + (h * S + p) * D).update(from: value + h * D, count: D)
        }
    }

    /// out = softmax(q·Kᵀ·scale, causal) · V for the T new positions (already in the cache).
    /// Single-threaded; `scratch` holds `scratchCount` floats.
    public static func forward(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                               keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride S: Int,
                               time T: Int, start: Int, heads: Int, kvHeads: Int, headDim D: Int,
                               scratch: UnsafeMutablePointer<Float>) {
        let groups = heads / kvHeads, qStride = heads * D, L = start + T
        let scale = 1 / Float(D).squareRoot()
        precondition(L <= S && S % 16 == 0)
        if T == 1 {
            for kvh in 0..<kvHeads {
                decodeHead(out: out + kvh * groups * D, q: q + kvh * groups * D, keysT: keys + kvh * D * S,
                           values: values + kvh * S * D, stride: S, length: L, groups: groups, headDim: D,
                           scale: scale, scores: scratch)
            }
            return
        }
        for h in 0..<heads {
            let kvh = h / groups
            // scores[T, L] = scale · Q[T, D] · Kᵀ[D, L]
            BLAS.sgemm(m: T, n: L, k: D, alpha: scale, a: q + h * D, lda: qStride, b: keys + kvh * D * S, ldb: S,
                       c: scratch, ldc: L)
            for t in 0..<T {
                let row = scratch + t * L, visible = start + t + 1
                let m = VectorMath.max(row, visible)
                let sum = VectorMath.expShifted(row, row, shift: m, visible)
                VectorMath.scale(row, 1 / sum, visible)
                if visible < L { (row + visible).update(repeating: 0, count: L - visible) }
            }
            BLAS.sgemm(m: T, n: D, k: L, a: scratch, lda: L, b: values + kvh * S * D, ldb: D,
                       c: out + h * D, ldc: qStride)
        }
    }

    /// One query per head of a KV group (`groups` heads): scores of 16 positions at a time are
    /// vector FMAs down the transposed keys; the weighted sum of values keeps 16 channels in a
    /// register per pass over the positions. No allocation, no BLAS call.
    static func decodeHead(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, keysT: UnsafePointer<Float>,
                           values: UnsafePointer<Float>, stride S: Int, length L: Int, groups: Int, headDim D: Int,
                           scale: Float, scores: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        let blocks = (L + 15) / 16
        for g in 0..<groups {
            let qg = q + g * D, row = scores + g * S
            var j = 0
            while j + 2 <= blocks {
                var a0 = V(), a1 = V()
                for d in 0..<D {
                    let qd = V(repeating: qg[d]), k = keysT + d * S + j * 16
                    a0 = a0.addingProduct(qd, load(k))
                    a1 = a1.addingProduct(qd, load(k + 16))
                }
                store(a0 * scale, row + j * 16)
                store(a1 * scale, row + j * 16 + 16)
                j += 2
            }
            if j < blocks {
                var a0 = V()
                for d in 0..<D { a0 = a0.addingProduct(V(repeating: qg[d]), load(keysT + d * S + j * 16)) }
                store(a0 * scale, row + j * 16)
            }
            let m = VectorMath.max(row, L)
            let sum = VectorMath.expShifted(row, row, shift: m, L)
            VectorMath.scale(row, 1 / sum, L)

            let o = out + g * D
            var d0 = 0
            while d0 + 16 <= D {
                // two chains (even and odd positions) so consecutive FMAs do not wait on each other
                var even = V(), odd = V()
                var p = 0
                while p + 2 <= L {
                    even = even.addingProduct(V(repeating: row[p]), load(values + p * D + d0))
                    odd = odd.addingProduct(V(repeating: row[p + 1]), load(values + (p + 1) * D + d0))
                    p += 2
                }
                if p < L { even = even.addingProduct(V(repeating: row[p]), load(values + p * D + d0)) }
                store(even + odd, o + d0)
                d0 += 16
            }
            for d in d0..<D {
                var acc: Float = 0
                for p in 0..<L { acc += row[p] * values[p * D + d] }
                o[d] = acc
            }
        }
    }

    // MARK: naive reference (Double, straight from the definition)

    public static func forwardNaive(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>,
                                    keys: UnsafePointer<Float>, values: UnsafePointer<Float>, stride S: Int,
                                    time T: Int, start: Int, heads: Int, kvHeads: Int, headDim D: Int) {
        let groups = heads / kvHeads
        for t in 0..<T {
            let visible = start + t + 1
            for h in 0..<heads {
                let kvh = h / groups
                var scores = [Double](repeating: 0, count: visible)
                for p in 0..<visible {
                    var dot: Double = 0
                    for d in 0..<D { dot += Double(q[t * heads * D + h * D + d]) * Double(keys[(kvh * D + d) * S + p]) }
                    scores[p] = dot / Double(D).squareRoot()
                }
                let m = scores.max()!
                let e = scores.map { _exp($0 - m) }
                let sum = e.reduce(0, +)
                for d in 0..<D {
                    var acc: Double = 0
                    for p in 0..<visible { acc += e[p] / sum * Double(values[(kvh * S + p) * D + d]) }
                    out[t * heads * D + h * D + d] = Float(acc)
                }
            }
        }
    }
}
