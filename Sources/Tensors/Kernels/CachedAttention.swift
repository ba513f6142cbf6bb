// Causal attention of new positions over one sequence's KV cache (inference), GQA, scale 1/sqrt(D).
// The cache is stored per KV head. Keys in blocks of 16 positions, each block transposed
// [Hkv, S/16, D, 16]: the scores of a block are one vector FMA per channel, and a block is 4 KB
// read front to back (D = 64). Values [Hkv, S, D]. S is the cache stride: capacity rounded up to
// 16. T new positions start..<start+T, L = start+T visible, Hq query heads (query head h reads KV
// head h / (Hq/Hkv)), D head dim; q/out [T, Hq·D].

public enum CachedAttention {
    /// Cache stride for a capacity: a multiple of 16 (whole vectors of positions).
    public static func stride(capacity: Int) -> Int { (capacity + 15) / 16 * 16 }

    /// Floats of scratch `forward` needs (scores, and for prompts the keys gathered as [D, L]).
    public static func scratchCount(time T: Int, stride S: Int, heads: Int, kvHeads: Int, headDim D: Int) -> Int {
        T == 1 ? heads / kvHeads * S : (min(T, Attention.queryBlock) + D) * S
    }

    /// Offset of key channel d at position p within one KV head's keys.
    @inline(__always)
    static func keyOffset(_ p: Int, _ d: Int, headDim D: Int) -> Int { (p / 16 * D + d) * 16 + p % 16 }

    /// Writes one position's keys and values (k, v: [Hkv·D]) into the cache at `position`.
    @inline(__always)
    public static func store(key: UnsafePointer<Float>, value: UnsafePointer<Float>, position p: Int,
                             keys: UnsafeMutablePointer<Float>, values: UnsafeMutablePointer<Float>,
                             stride S: Int, kvHeads: Int, headDim D: Int) {
        for h in 0..<kvHeads {
            let kb = keys + h * D * S + keyOffset(p, 0, headDim: D)
            for d in 0..<D { kb[d * 16] = key[h * D + d] }
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
                decodeHead(out: out + kvh * groups * D, q: q + kvh * groups * D, keys: keys + kvh * D * S,
                           values: values + kvh * S * D, stride: S, length: L, groups: groups, headDim: D,
                           scale: scale, scores: scratch)
            }
            return
        }
        let kt = scratch + min(T, Attention.queryBlock) * S
        for h in 0..<heads {
            let kvh = h / groups
            if h % groups == 0 {
                // this KV head's keys as one [D, L] matrix for the products below
                let kb = keys + kvh * D * S
                for d in 0..<D {
                    for p in 0..<L { kt[d * L + p] = kb[keyOffset(p, d, headDim: D)] }
                }
            }
            for blk in Attention.blocks(T) {
                // queries t0..<t1 see positions 0..<start+t1: scores[t1−t0, Lb] = scale · Q · Kᵀ
                let t0 = blk.lowerBound, t1 = blk.upperBound, Lb = start + t1
                BLAS.sgemm(m: t1 - t0, n: Lb, k: D, alpha: scale, a: q + t0 * qStride + h * D, lda: qStride,
                           b: kt, ldb: L, c: scratch, ldc: Lb)
                for t in blk {
                    let row = scratch + (t - t0) * Lb
                    Softmax.row(row, row, visible: start + t + 1, width: Lb)
                }
                BLAS.sgemm(m: t1 - t0, n: D, k: Lb, a: scratch, lda: Lb, b: values + kvh * S * D, ldb: D,
                           c: out + t0 * qStride + h * D, ldc: qStride)
            }
        }
    }

    /// One query per head of a KV group (`groups` heads, each a row of `scores`). Scores: two key
    /// blocks (32 positions) at a time are vector FMAs down their channels, two heads per pass so
    /// each key vector is loaded once for both. Weighted sum of values: a head's 64 output channels stay
    /// in four 16-lane registers for the whole pass over the positions, each value row read once.
    /// No allocation, no BLAS call.
    static func decodeHead(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, keys keysT: UnsafePointer<Float>,
                           values: UnsafePointer<Float>, stride S: Int, length L: Int, groups: Int, headDim D: Int,
                           scale: Float, scores: UnsafeMutablePointer<Float>) {
        typealias V = SIMD16<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func store(_ v: V, _ p: UnsafeMutablePointer<Float>) { UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self) }
        let blocks = (L + 15) / 16
        var g = 0
        while g < groups {
            let pair = g + 1 < groups
            let q0 = q + g * D, q1 = pair ? q0 + D : q0
            let row0 = scores + g * S, row1 = pair ? row0 + S : row0
            var j = 0
            while j + 2 <= blocks {
                var a0 = V(), a1 = V(), b0 = V(), b1 = V()
                let block0 = keysT + j * D * 16, block1 = block0 + D * 16
                for d in 0..<D {
                    let k0 = load(block0 + d * 16), k1 = load(block1 + d * 16)
                    let x0 = V(repeating: q0[d]), x1 = V(repeating: q1[d])
                    a0 = a0.addingProduct(x0, k0); a1 = a1.addingProduct(x0, k1)
                    b0 = b0.addingProduct(x1, k0); b1 = b1.addingProduct(x1, k1)
                }
                store(a0 * scale, row0 + j * 16); store(a1 * scale, row0 + j * 16 + 16)
                if pair { store(b0 * scale, row1 + j * 16); store(b1 * scale, row1 + j * 16 + 16) }
                j += 2
            }
            if j < blocks {
                var a0 = V(), b0 = V()
                let block0 = keysT + j * D * 16
                for d in 0..<D {
                    let k0 = load(block0 + d * 16)
                    a0 = a0.addingProduct(V(repeating: q0[d]), k0); b0 = b0.addingProduct(V(repeating: q1[d]), k0)
                }
                store(a0 * scale, row0 + j * 16)
                if pair { store(b0 * scale, row1 + j * 16) }
            }
            g += pair ? 2 : 1
        }
        for g in 0..<groups {
            let row = scores + g * S
            Softmax.row(row, row, visible: L)
            let o = out + g * D
            var d0 = 0
            while d0 + 64 <= D {
                var c0 = V(), c1 = V(), c2 = V(), c3 = V()
                for p in 0..<L {
                    let w = V(repeating: row[p]), v = values + p * D + d0
                    c0 = c0.addingProduct(w, load(v)); c1 = c1.addingProduct(w, load(v + 16))
                    c2 = c2.addingProduct(w, load(v + 32)); c3 = c3.addingProduct(w, load(v + 48))
                }
                store(c0, o + d0); store(c1, o + d0 + 16); store(c2, o + d0 + 32); store(c3, o + d0 + 48)
                d0 += 64
            }
            while d0 + 16 <= D {
                var c0 = V()
                for p in 0..<L { c0 = c0.addingProduct(V(repeating: row[p]), load(values + p * D + d0)) }
                store(c0, o + d0)
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
                    for d in 0..<D { dot += Double(q[t * heads * D + h * D + d]) * Double(keys[kvh * D * S + keyOffset(p, d, headDim: D)]) }
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
