// A fully connected layer, nn.Linear layout: out[N,O] = inp[N,I] · weight[O,I]ᵀ + bias[O].
// N rows (batch × time), I input features, O output features. All matmuls go through BLAS.sgemm.

public enum Linear {
    /// out = inp · weightᵀ (+ bias); with `accumulate`, out += inp · weightᵀ (+ bias).
    public static func forward(out: UnsafeMutablePointer<Float>,
                               inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               n: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false) {
        if n <= skinnyRows {
            skinnyForward(out: out, inp: inp, weight: weight, bias: bias, n: n, inFeatures: inFeatures,
                          outFeatures: outFeatures, accumulate: accumulate)
            return
        }
        if let bias {
            for r in 0..<n {
                let row = out + r * outFeatures
                if accumulate {
                    for o in 0..<outFeatures { row[o] += bias[o] }
                } else {
                    row.update(from: bias, count: outFeatures)
                }
            }
        }
        BLAS.sgemm(transB: true, m: n, n: outFeatures, k: inFeatures,
                   a: inp, lda: inFeatures, b: weight, ldb: inFeatures,
                   beta: bias == nil && !accumulate ? 0 : 1, c: out, ldc: outFeatures)
    }

    /// Accumulates dinp += dout · weight, dweight += doutᵀ · inp, dbias += Σ_rows dout.
    /// Pass nil for gradients that are not needed (frozen weights, the first layer's input).
    /// With `overwriteInput`, dinp = dout · weight instead (saves zeroing a scratch buffer).
    public static func backward(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                                dbias: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                n: Int, inFeatures: Int, outFeatures: Int, overwriteInput: Bool = false) {
        if let dinp {
            BLAS.sgemm(m: n, n: inFeatures, k: outFeatures, a: dout, lda: outFeatures,
                       b: weight, ldb: inFeatures, beta: overwriteInput ? 0 : 1, c: dinp, ldc: inFeatures)
        }
        if let dweight {
            BLAS.sgemm(transA: true, m: outFeatures, n: inFeatures, k: n, a: dout, lda: outFeatures,
                       b: inp, ldb: inFeatures, beta: 1, c: dweight, ldc: inFeatures)
        }
        if let dbias {
            for r in 0..<n {
                let row = dout + r * outFeatures
                for o in 0..<outFeatures { dbias[o] += row[o] }
            }
        }
    }

    /// Up to this many rows (decoding a few sequences) the weights are streamed once by our own
    /// kernel instead of sgemm, which would pack the whole weight matrix for a handful of rows.
    public static let skinnyRows = 16

    /// out[r, o] (+)= Σ_i inp[r, i]·weight[o, i] (+ bias[o]) for few rows: each weight row is read
    /// once and used for up to 8 input rows (8 FMA accumulators); output features are split over
    /// the cores.
    static func skinnyForward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                              bias: UnsafePointer<Float>?, n: Int, inFeatures K: Int, outFeatures O: Int, accumulate: Bool) {
        typealias V = SIMD8<Float>
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        let kv = K / 8 * 8
        parallelChunks(O, minChunk: 64) { outs in
            if n == 1 {
                // one row (a single sequence decoding): four independent accumulators per output
                for o in outs {
                    let w = weight + o * K
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V()
                    var i = 0
                    while i + 32 <= K {
                        a0 = a0.addingProduct(load(inp + i), load(w + i))
                        a1 = a1.addingProduct(load(inp + i + 8), load(w + i + 8))
                        a2 = a2.addingProduct(load(inp + i + 16), load(w + i + 16))
                        a3 = a3.addingProduct(load(inp + i + 24), load(w + i + 24))
                        i += 32
                    }
                    while i + 8 <= K { a0 = a0.addingProduct(load(inp + i), load(w + i)); i += 8 }
                    var sum = ((a0 + a1) + (a2 + a3)).sum()
                    while i < K { sum += inp[i] * w[i]; i += 1 }
                    let value = sum + (bias?[o] ?? 0)
                    out[o] = accumulate ? out[o] + value : value
                }
                return
            }
            var r0 = 0
            while r0 < n {
                let rows = min(8, n - r0)
                // rows past n repeat the last row (computed, not stored)
                let x = (0..<8).map { inp + (r0 + min($0, rows - 1)) * K }
                let (x0, x1, x2, x3, x4, x5, x6, x7) = (x[0], x[1], x[2], x[3], x[4], x[5], x[6], x[7])
                for o in outs {
                    let w = weight + o * K
                    var a0 = V(), a1 = V(), a2 = V(), a3 = V(), a4 = V(), a5 = V(), a6 = V(), a7 = V()
                    var i = 0
                    while i < kv {
                        let wv = load(w + i)
                        a0 = a0.addingProduct(load(x0 + i), wv)
                        a1 = a1.addingProduct(load(x1 + i), wv)
                        a2 = a2.addingProduct(load(x2 + i), wv)
                        a3 = a3.addingProduct(load(x3 + i), wv)
                        a4 = a4.addingProduct(load(x4 + i), wv)
                        a5 = a5.addingProduct(load(x5 + i), wv)
                        a6 = a6.addingProduct(load(x6 + i), wv)
                        a7 = a7.addingProduct(load(x7 + i), wv)
                        i += 8
                    }
                    var sums = (a0.sum(), a1.sum(), a2.sum(), a3.sum(), a4.sum(), a5.sum(), a6.sum(), a7.sum())
                    while i < K {
                        let wi = w[i]
                        sums.0 += x0[i] * wi; sums.1 += x1[i] * wi; sums.2 += x2[i] * wi; sums.3 += x3[i] * wi
                        sums.4 += x4[i] * wi; sums.5 += x5[i] * wi; sums.6 += x6[i] * wi; sums.7 += x7[i] * wi
                        i += 1
                    }
                    let b = bias?[o] ?? 0
                    withUnsafeBytes(of: sums) { raw in
                        for j in 0..<rows {
                            let dst = out + (r0 + j) * O + o
                            let value = raw.load(fromByteOffset: 4 * j, as: Float.self) + b
                            dst.pointee = accumulate ? dst.pointee + value : value
                        }
                    }
                }
                r0 += 8
            }
        }
    }

    // MARK: naive reference

    public static func forwardNaive(out: UnsafeMutablePointer<Float>,
                                    inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                                    n: Int, inFeatures: Int, outFeatures: Int) {
        for r in 0..<n {
            for o in 0..<outFeatures {
                var s: Float = bias?[o] ?? 0
                for i in 0..<inFeatures { s += inp[r * inFeatures + i] * weight[o * inFeatures + i] }
                out[r * outFeatures + o] = s
            }
        }
    }

    public static func backwardNaive(dinp: UnsafeMutablePointer<Float>?, dweight: UnsafeMutablePointer<Float>?,
                                     dbias: UnsafeMutablePointer<Float>?,
                                     dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     n: Int, inFeatures: Int, outFeatures: Int) {
        for r in 0..<n {
            for o in 0..<outFeatures {
                let g = dout[r * outFeatures + o]
                dbias?[o] += g
                for i in 0..<inFeatures {
                    dinp?[r * inFeatures + i] += g * weight[o * inFeatures + i]
                    dweight?[o * inFeatures + i] += g * inp[r * inFeatures + i]
                }
            }
        }
    }
}
