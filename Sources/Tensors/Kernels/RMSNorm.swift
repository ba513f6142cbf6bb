// RMSNorm (Qwen2/Llama/Qwen3): out = x / sqrt(mean(x²) + eps) · weight, per row of C channels.
// N rows, C channels; rstd[N] is saved for the backward pass.

public enum RMSNorm {
    public static func forward(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                               inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                               n: Int, c: Int, eps: Float) {
        parallelChunks(n, minChunk: max(1, 16384 / max(c, 1))) { rows in
            for r in rows {
                let x = inp + r * c
                let y = out + r * c
                let s = 1 / (VectorMath.sumOfSquares(x, c) / Float(c) + eps).squareRoot()
                rstd[r] = s
                for i in 0..<c { y[i] = (x[i] * s) * weight[i] }
            }
        }
    }

    /// Accumulates dinp and dweight. dweight sums rows in fixed blocks of `rowBlock` (block
    /// partials added in block order), so the result does not depend on how blocks are spread
    /// over threads.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?,
                                dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                rstd: UnsafePointer<Float>, n: Int, c: Int) {
        let blocks = (n + rowBlock - 1) / rowBlock
        let partial = dweight == nil || blocks <= 1 ? nil : FloatBuffer(count: blocks * c)
        parallelChunks(blocks, minChunk: max(1, 16384 / max(c * rowBlock, 1))) { range in
            for blk in range {
                // one block: partial row sums, or straight into dweight when there is one block
                let dw = partial.map { $0.pointer + blk * c } ?? dweight
                for r in (blk * rowBlock)..<min(n, (blk + 1) * rowBlock) {
                    let x = inp + r * c
                    let g = dout + r * c
                    let dx = dinp + r * c
                    let s = rstd[r]
                    // dxhat = g·w; dx = s·(dxhat − xhat·mean(dxhat·xhat)), xhat = x·s
                    var dot: Float = 0
                    for i in 0..<c { dot += g[i] * weight[i] * x[i] }
                    let k = dot * s * s / Float(c)
                    for i in 0..<c { dx[i] += s * (g[i] * weight[i] - x[i] * k) }
                    if let dw {
                        for i in 0..<c { dw[i] += g[i] * x[i] * s }
                    }
                }
            }
        }
        if let dweight, let partial {
            for blk in 0..<blocks {
                let p = partial.readPointer + blk * c
                for i in 0..<c { dweight[i] += p[i] }
            }
        }
    }

    /// Rows per dweight partial in `backward`.
    public static let rowBlock = 64

    /// dweight += Σ dout·x·rstd for per-head norms inside strided rows (Qwen3 q/k norm): row r,
    /// head h reads inp[r·rowStride + h·c ..] and dout[r·outStride + h·c ..], rstd[r·heads + h].
    public static func backwardWeight(dweight: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                                      rowStride: Int, outStride: Int, rstd: UnsafePointer<Float>, rows: Int, heads: Int, c: Int) {
        for r in 0..<rows {
            for h in 0..<heads {
                let x = inp + r * rowStride + h * c, g = dout + r * outStride + h * c
                let s = rstd[r * heads + h]
                for i in 0..<c { dweight[i] += g[i] * x[i] * s }
            }
        }
    }

    // MARK: naive reference

    public static func forwardNaive(out: UnsafeMutablePointer<Float>, rstd: UnsafeMutablePointer<Float>,
                                    inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                    n: Int, c: Int, eps: Float) {
        for r in 0..<n {
            var ms: Double = 0
            for i in 0..<c { ms += Double(inp[r * c + i]) * Double(inp[r * c + i]) }
            let s = Float(1 / (ms / Double(c) + Double(eps)).squareRoot())
            rstd[r] = s
            for i in 0..<c { out[r * c + i] = inp[r * c + i] * s * weight[i] }
        }
    }

    public static func backwardNaive(dinp: UnsafeMutablePointer<Float>, dweight: UnsafeMutablePointer<Float>?,
                                     dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, weight: UnsafePointer<Float>,
                                     rstd: UnsafePointer<Float>, n: Int, c: Int) {
        for r in 0..<n {
            let s = Double(rstd[r])
            // d out_i / d x_j = w_i·(s·δij − x_i·x_j·s³/C)
            for j in 0..<c {
                var acc: Double = 0
                for i in 0..<c {
                    let w = Double(weight[i]), g = Double(dout[r * c + i])
                    let xi = Double(inp[r * c + i]), xj = Double(inp[r * c + j])
                    acc += g * w * ((i == j ? s : 0) - xi * xj * s * s * s / Double(c))
                }
                dinp[r * c + j] += Float(acc)
            }
            if let dweight {
                for i in 0..<c { dweight[i] += dout[r * c + i] * inp[r * c + i] * Float(s) }
            }
        }
    }
}
