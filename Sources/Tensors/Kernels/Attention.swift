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
    /// Queries are processed in blocks of this many rows; block [t0, t1) only needs keys [0, t1),
    /// which skips most of the masked upper triangle (T = 128: 75% of the full products).
    public static let queryBlock = 64

    /// The query blocks [t0, t1) of a sequence of T positions.
    static func blocks(_ T: Int) -> [Range<Int>] {
        stride(from: 0, to: T, by: queryBlock).map { $0..<min(T, $0 + queryBlock) }
    }

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
                    for blk in blocks(T) {
                        let t0 = blk.lowerBound, t1 = blk.upperBound, rows = p + t0 * T
                        // S[t0..<t1, 0..<t1] = scale · Q · Kᵀ; softmax of each row's causal prefix
                        BLAS.sgemm(transB: true, m: t1 - t0, n: t1, k: D, alpha: s.scale, a: qh + t0 * s.qStride, lda: s.qStride,
                                   b: kh, ldb: s.kvStride, c: rows, ldc: T)
                        causalSoftmax(p, T, rows: blk)
                        BLAS.sgemm(m: t1 - t0, n: D, k: t1, a: rows, lda: T, b: vh, ldb: s.kvStride,
                                   c: out + (b * T + t0) * s.qStride + h * D, ldc: s.qStride)
                    }
                }
            }
        }
    }

    /// Row t (of `rows`) keeps columns 0...t (softmax) and zeroes the rest.
    static func causalSoftmax(_ p: UnsafeMutablePointer<Float>, _ T: Int, rows: Range<Int>) {
        for t in rows { Softmax.row(p + t * T, p + t * T, visible: t + 1, width: T) }
    }

    /// Writes (not accumulates) dq, dk, dv: the first query head of each group overwrites, the
    /// others add. Work is split by (batch, kv head) so that the query heads sharing a kv head
    /// accumulate into its dk/dv on one thread. Query blocks run last first: the last one reaches
    /// every key, so it is the one that overwrites dk/dv.
    public static func backward(dq: UnsafeMutablePointer<Float>, dk: UnsafeMutablePointer<Float>, dv: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, probs: UnsafePointer<Float>,
                                q: UnsafePointer<Float>, k: UnsafePointer<Float>, v: UnsafePointer<Float>,
                                shape s: AttentionShape) {
        let T = s.time, D = s.headDim
        BLAS.singleThreaded {
            parallelChunks(s.batch * s.kvHeads) { groups in
                let scratch = FloatBuffer(count: min(T, queryBlock) * T)
                let dp = scratch.pointer
                for group in groups {
                    let b = group / s.kvHeads, kvh = group % s.kvHeads
                    for h in (kvh * s.groups)..<((kvh + 1) * s.groups) {
                        let qOff = b * T * s.qStride + h * D
                        let kvOff = b * T * s.kvStride + kvh * D
                        let p = probs + (b * s.heads + h) * T * T
                        for blk in blocks(T).reversed() {
                            let t0 = blk.lowerBound, t1 = blk.upperBound, m = t1 - t0
                            let first: Float = h == kvh * s.groups && t1 == T ? 0 : 1
                            let pb = p + t0 * T, dq0 = qOff + t0 * s.qStride
                            // dP = dO · Vᵀ ; dV += Pᵀ · dO  (keys 0..<t1)
                            BLAS.sgemm(transB: true, m: m, n: t1, k: D, a: dout + dq0, lda: s.qStride,
                                       b: v + kvOff, ldb: s.kvStride, c: dp, ldc: t1)
                            BLAS.sgemm(transA: true, m: t1, n: D, k: m, a: pb, lda: T, b: dout + dq0, ldb: s.qStride,
                                       beta: first, c: dv + kvOff, ldc: s.kvStride)
                            // dS = P ⊙ (dP − Σ dP·P) · scale (rows restricted to the causal prefix)
                            for t in blk {
                                let pr = p + t * T, dr = dp + (t - t0) * t1
                                let dot = VectorMath.dot(pr, dr, t + 1)
                                for j in 0...t { dr[j] = pr[j] * (dr[j] - dot) * s.scale }
                                if t + 1 < t1 { (dr + t + 1).update(repeating: 0, count: t1 - t - 1) }
                            }
                            // dQ = dS · K ; dK += dSᵀ · Q
                            BLAS.sgemm(m: m, n: D, k: t1, a: dp, lda: t1, b: k + kvOff, ldb: s.kvStride,
                                       beta: 0, c: dq + dq0, ldc: s.qStride)
                            BLAS.sgemm(transA: true, m: t1, n: D, k: m, a: dp, lda: t1, b: q + dq0, ldb: s.qStride,
                                       beta: first, c: dk + kvOff, ldc: s.kvStride)
                        }
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
