// Causal multi-head attention with grouped KV heads (GQA), scale 1/sqrt(D).
// B batch, T time, Hq query heads, Hkv key/value heads (query head h reads KV head h / (Hq/Hkv)),
// D head dim. q/out [B,T,Hq,D], k/v [B,T,Hkv,D], probs [B,Hq,T,T] saved for the backward pass.

import Foundation

public struct AttentionShape: Sendable, Equatable {
    public var batch: Int, time: Int, heads: Int, kvHeads: Int, headDim: Int
    public init(batch: Int, time: Int, heads: Int, kvHeads: Int, headDim: Int) {
        precondition(heads % kvHeads == 0, "query heads \(heads) not a multiple of kv heads \(kvHeads)")
        self.batch = batch; self.time = time; self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim
    }
    var groups: Int { heads / kvHeads }
    var qStride: Int { heads * headDim }
    var kvStride: Int { kvHeads * headDim }
    var scale: Float { 1 / Float(headDim).squareRoot() }
}

public enum Attention {
    /// Overwrites out and probs. (batch, head) pairs run in parallel, each with single-threaded sgemm.
    public static func forward(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                               q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                               shape s: AttentionShape) {
        let T = s.time, D = s.headDim
        BLAS.singleThreaded {
            parallelChunks(s.batch * s.heads) { pairs in
                for pair in pairs {
                    let b = pair / s.heads, h = pair % s.heads
                    let kvh = h / s.groups
                    let qh = q + b * T * s.qStride + h * D
                    let kh = k + b * T * s.kvStride + kvh * D
                    let vh = v + b * T * s.kvStride + kvh * D
                    let p = probs + (b * s.heads + h) * T * T
                    BLAS.sgemm(transB: true, m: T, n: T, k: D, alpha: s.scale, a: qh, lda: s.qStride,
                               b: kh, ldb: s.kvStride, c: p, ldc: T)
                    causalSoftmax(p, T)
                    BLAS.sgemm(m: T, n: D, k: T, a: p, lda: T, b: vh, ldb: s.kvStride,
                               c: out + b * T * s.qStride + h * D, ldc: s.qStride)
                }
            }
        }
    }

    /// Row t keeps columns 0...t (softmax) and zeroes the rest.
    static func causalSoftmax(_ p: UnsafeMutablePointer<Float>, _ T: Int) {
        for t in 0..<T {
            let row = p + t * T
            let m = VectorMath.max(row, t + 1)
            let sum = VectorMath.expShifted(row, row, shift: m, t + 1)
            VectorMath.scale(row, 1 / sum, t + 1)
            if t + 1 < T { (row + t + 1).update(repeating: 0, count: T - t - 1) }
        }
    }

    /// Writes (not accumulates) dq, dk, dv: the first query head of each group overwrites, the
    /// others add. Work is split by (batch, kv head) so that the query heads sharing a kv head
    /// accumulate into its dk/dv on one thread.
    public static func backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                                q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                shape s: AttentionShape) {
        let T = s.time, D = s.headDim
        BLAS.singleThreaded {
            parallelChunks(s.batch * s.kvHeads) { groups in
                let scratch = FloatBuffer(count: T * T)
                let dp = scratch.pointer
                for group in groups {
                    let b = group / s.kvHeads, kvh = group % s.kvHeads
                    for h in (kvh * s.groups)..<((kvh + 1) * s.groups) {
                        let first: Float = h == kvh * s.groups ? 0 : 1
                        let qOff = b * T * s.qStride + h * D
                        let kvOff = b * T * s.kvStride + kvh * D
                        let p = probs + (b * s.heads + h) * T * T
                        // dP = dO · Vᵀ ; dV += Pᵀ · dO
                        BLAS.sgemm(transB: true, m: T, n: T, k: D, a: dout + qOff, lda: s.qStride,
                                   b: v + kvOff, ldb: s.kvStride, c: dp, ldc: T)
                        BLAS.sgemm(transA: true, m: T, n: D, k: T, a: p, lda: T, b: dout + qOff, ldb: s.qStride,
                                   beta: first, c: dv + kvOff, ldc: s.kvStride)
                        // dS = P ⊙ (dP − Σ dP·P) · scale (rows restricted to the causal prefix)
                        for t in 0..<T {
                            let pr = p + t * T, dr = dp + t * T
                            let dot = VectorMath.dot(pr, dr, t + 1)
                            for j in 0...t { dr[j] = pr[j] * (dr[j] - dot) * s.scale }
                            if t + 1 < T { (dr + t + 1).update(repeating: 0, count: T - t - 1) }
                        }
                        // dQ += dS · K ; dK += dSᵀ · Q
                        BLAS.sgemm(m: T, n: D, k: T, a: dp, lda: T, b: k + kvOff, ldb: s.kvStride,
                                   beta: 0, c: dq + qOff, ldc: s.qStride)
                        BLAS.sgemm(transA: true, m: T, n: D, k: T, a: dp, lda: T, b: q + qOff, ldb: s.qStride,
                                   beta: first, c: dk + kvOff, ldc: s.kvStride)
                    }
                }
            }
        }
    }

    /// T new positions per sequence (positions start..<start+T) attending causally to a KV cache
    /// that already holds them: query t sees cache positions 0...start+t. q/out [B,T,Hq,D];
    /// caches [B, capacity, Hkv, D]. (batch, head) pairs run in parallel.
    public static func cached(out: UnsafeMutablePointer<Float>,
                              q: UnsafePointer<Float>, kCache: UnsafePointer<Float>, vCache: UnsafePointer<Float>,
                              batch: Int, time T: Int, start: Int, capacity: Int, heads: Int, kvHeads: Int, headDim D: Int) {
        let groups = heads / kvHeads, kvStride = kvHeads * D, qStride = heads * D
        let L = start + T
        let scale = 1 / Float(D).squareRoot()
        if T == 1 {
            decodeOne(out: out, q: q, kCache: kCache, vCache: vCache, batch: batch, length: L, capacity: capacity,
                      heads: heads, kvHeads: kvHeads, headDim: D)
            return
        }
        BLAS.singleThreaded {
            parallelChunks(batch * heads) { pairs in
                let scratch = FloatBuffer(count: T * L)
                let scores = scratch.pointer
                for pair in pairs {
                    let b = pair / heads, h = pair % heads, kvh = h / groups
                    let qh = q + b * T * qStride + h * D
                    let kc = kCache + b * capacity * kvStride + kvh * D
                    let vc = vCache + b * capacity * kvStride + kvh * D
                    // S[T, L] = scale · Q[T, D] · K[L, D]ᵀ
                    BLAS.sgemm(transB: true, m: T, n: L, k: D, alpha: scale, a: qh, lda: qStride,
                               b: kc, ldb: kvStride, c: scores, ldc: L)
                    for t in 0..<T {
                        let row = scores + t * L, visible = start + t + 1
                        let m = VectorMath.max(row, visible)
                        let sum = VectorMath.expShifted(row, row, shift: m, visible)
                        VectorMath.scale(row, 1 / sum, visible)
                        if visible < L { (row + visible).update(repeating: 0, count: L - visible) }
                    }
                    BLAS.sgemm(m: T, n: D, k: L, a: scores, lda: L, b: vc, ldb: kvStride,
                               c: out + b * T * qStride + h * D, ldc: qStride)
                }
            }
        }
    }

    /// One query per sequence (decoding): per (sequence, kv head), each cached key and value is
    /// read once for all the query heads that share it. Dot products and the weighted sum of
    /// values are SIMD loops over D; no BLAS call is worth its overhead at this size.
    static func decodeOne(out: UnsafeMutablePointer<Float>, q: UnsafePointer<Float>, kCache: UnsafePointer<Float>,
                          vCache: UnsafePointer<Float>, batch: Int, length L: Int, capacity: Int,
                          heads: Int, kvHeads: Int, headDim D: Int) {
        let groups = heads / kvHeads, kvStride = kvHeads * D
        let scale = 1 / Float(D).squareRoot()
        parallelChunks(batch * kvHeads) { pairs in
            let scratch = FloatBuffer(count: groups * L)
            let scores = scratch.pointer
            for pair in pairs {
                let b = pair / kvHeads, kvh = pair % kvHeads
                let qh = q + (b * heads + kvh * groups) * D
                let kc = kCache + b * capacity * kvStride + kvh * D
                let vc = vCache + b * capacity * kvStride + kvh * D
                for j in 0..<L {
                    let key = kc + j * kvStride
                    for g in 0..<groups { scores[g * L + j] = VectorMath.dot(qh + g * D, key, D) * scale }
                }
                for g in 0..<groups {
                    let row = scores + g * L
                    let m = VectorMath.max(row, L)
                    let sum = VectorMath.expShifted(row, row, shift: m, L)
                    VectorMath.scale(row, 1 / sum, L)
                    let o = out + (b * heads + kvh * groups + g) * D
                    o.update(repeating: 0, count: D)
                    // o += p_j · v_j, j outer: the D/8 accumulators of a row are independent, so no
                    // FMA waits on the previous one
                    let dv = D / 8 * 8
                    for j in 0..<L {
                        let p = SIMD8<Float>(repeating: row[j]), value = vc + j * kvStride
                        var d = 0
                        while d < dv {
                            let dst = UnsafeMutableRawPointer(o + d)
                            dst.storeBytes(of: dst.loadUnaligned(as: SIMD8<Float>.self)
                                .addingProduct(p, UnsafeRawPointer(value + d).loadUnaligned(as: SIMD8<Float>.self)), as: SIMD8<Float>.self)
                            d += 8
                        }
                        while d < D { o[d] += row[j] * value[d]; d += 1 }
                    }
                }
            }
        }
    }

    // MARK: naive reference

    public static func forwardNaive(out: UnsafeMutablePointer<Float>, probs: UnsafeMutablePointer<Float>,
                                    q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                    shape s: AttentionShape) {
        let T = s.time, D = s.headDim
        for b in 0..<s.batch {
            for h in 0..<s.heads {
                let kvh = h / s.groups
                let p = probs + (b * s.heads + h) * T * T
                for t in 0..<T {
                    var scores = [Double](repeating: 0, count: t + 1)
                    for u in 0...t {
                        var dot: Double = 0
                        for d in 0..<D {
                            dot += Double(q[(b * T + t) * s.qStride + h * D + d]) * Double(k[(b * T + u) * s.kvStride + kvh * D + d])
                        }
                        scores[u] = dot / Double(D).squareRoot()
                    }
                    let m = scores.max()!
                    let e = scores.map { _exp($0 - m) }
                    let sum = e.reduce(0, +)
                    for u in 0..<T { p[t * T + u] = u <= t ? Float(e[u] / sum) : 0 }
                    for d in 0..<D {
                        var acc: Double = 0
                        for u in 0...t { acc += e[u] / sum * Double(v[(b * T + u) * s.kvStride + kvh * D + d]) }
                        out[(b * T + t) * s.qStride + h * D + d] = Float(acc)
                    }
                }
            }
        }
    }

    public static func backwardNaive(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                     dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                                     q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                     shape s: AttentionShape) {
        let T = s.time, D = s.headDim
        let scale = 1 / Double(D).squareRoot()
        dq.update(repeating: 0, count: s.batch * T * s.qStride)
        dk.update(repeating: 0, count: s.batch * T * s.kvStride)
        dv.update(repeating: 0, count: s.batch * T * s.kvStride)
        for b in 0..<s.batch {
            for h in 0..<s.heads {
                let kvh = h / s.groups
                let p = probs + (b * s.heads + h) * T * T
                for t in 0..<T {
                    let qi = (b * T + t) * s.qStride + h * D
                    var dp = [Double](repeating: 0, count: t + 1)
                    for u in 0...t {
                        let vi = (b * T + u) * s.kvStride + kvh * D
                        for d in 0..<D {
                            dp[u] += Double(dout[qi + d]) * Double(v[vi + d])
                            dv[vi + d] += Float(Double(p[t * T + u]) * Double(dout[qi + d]))
                        }
                    }
                    var dot: Double = 0
                    for u in 0...t { dot += dp[u] * Double(p[t * T + u]) }
                    for u in 0...t {
                        let ds = Double(p[t * T + u]) * (dp[u] - dot) * scale
                        let ki = (b * T + u) * s.kvStride + kvh * D
                        for d in 0..<D {
                            dq[qi + d] += Float(ds * Double(k[ki + d]))
                            dk[ki + d] += Float(ds * Double(q[qi + d]))
                        }
                    }
                }
            }
        }
    }
}
