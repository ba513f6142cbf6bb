// Causal multi-head attention with grouped KV heads (GQA), scale 1/sqrt(D).
// B batch, T time, Hq query heads, Hkv key/value heads (query head h reads KV head h / (Hq/Hkv)),
// D head dim. q/out [B,T,Hq,D], k/v [B,T,Hkv,D], probs [B,Hq,T,T] saved for the backward pass.
// Attention over a KV cache (inference) is CachedAttention.

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
