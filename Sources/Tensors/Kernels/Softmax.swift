// Row softmax: out[r, :] = exp(x[r, :] − max) / Σ exp(...). N rows of V entries; out may equal inp.

public enum Softmax {
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows { row(out + r * cols, inp + r * cols, visible: cols) }
    }

    /// One row: out[0..<visible] = softmax(inp[0..<visible]), out[visible..<width] = 0 (the
    /// masked positions of causal attention). out may equal inp. Every softmax of the model is this.
    @inline(__always)
    public static func row(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, visible: Int, width: Int? = nil) {
        _ = normalised(out, inp, visible)
        if let width, visible < width { (out + visible).update(repeating: 0, count: width - visible) }
    }

    /// out[0..<n] = softmax(inp[0..<n] · scale), computed as `row` computes it on the scaled row;
    /// returns the scaled row's shift m (its largest entry) and normaliser Σ exp(x·scale − m), so
    /// that log softmax(x·scale)[i] = x[i]·scale − m − log Σ. out may equal inp.
    public static func scaled(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, scale: Float, count n: Int) -> (shift: Float, sum: Float) {
        for i in 0..<n { out[i] = inp[i] * scale }
        return normalised(out, out, n)
    }

    /// out[0..<n] = softmax(inp[0..<n]); returns its shift (the largest entry) and normaliser.
    @inline(__always)
    static func normalised(_ out: UnsafeMutablePointer<Float>, _ inp: UnsafePointer<Float>, _ n: Int) -> (shift: Float, sum: Float) {
        let m = VectorMath.max(inp, n)
        let sum = VectorMath.expShifted(out, inp, shift: m, n)
        VectorMath.scale(out, 1 / sum, n)
        return (m, sum)
    }

    /// Accumulates dinp += p ⊙ (dout − Σ dout·p), given the forward output p.
    public static func backward(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, out p: UnsafePointer<Float>,
                                rows: Int, cols: Int) {
        for r in 0..<rows {
            let g = dout + r * cols, y = p + r * cols, dx = dinp + r * cols
            let dot = VectorMath.dot(g, y, cols)
            for i in 0..<cols { dx[i] += y[i] * (g[i] - dot) }
        }
    }

    // MARK: naive reference

    public static func forwardNaive(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, rows: Int, cols: Int) {
        for r in 0..<rows {
            var m = -Double.infinity
            for i in 0..<cols { m = Swift.max(m, Double(inp[r * cols + i])) }
            var sum: Double = 0
            for i in 0..<cols { sum += _exp(Double(inp[r * cols + i]) - m) }
            for i in 0..<cols { out[r * cols + i] = Float(_exp(Double(inp[r * cols + i]) - m) / sum) }
        }
    }

    public static func backwardNaive(dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, out p: UnsafePointer<Float>,
                                     rows: Int, cols: Int) {
        for r in 0..<rows {
            for j in 0..<cols {
                var acc: Double = 0
                for i in 0..<cols {
                    let pi = Double(p[r * cols + i]), pj = Double(p[r * cols + j])
                    acc += Double(dout[r * cols + i]) * pi * ((i == j ? 1 : 0) - pj)
                }
                dinp[r * cols + j] += Float(acc)
            }
        }
    }
}
