// A fully connected layer, nn.Linear layout: out[N,O] = inp[N,I] · weight[O,I]ᵀ + bias[O].
// N rows (batch × time), I input features, O output features. All matmuls go through BLAS.sgemm.

public enum Linear {
    /// out = inp · weightᵀ (+ bias); with `accumulate`, out += inp · weightᵀ (+ bias).
    public static func forward(out: UnsafeMutablePointer<Float>,
                               inp: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
                               n: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false) {
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
