// Token embedding lookup (gather) and its gradient (scatter-add).
// N tokens, C channels, V vocabulary; table wte [V, C].

public enum Embedding {
    public static func forward(out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, table: UnsafePointer<Float>,
                               n: Int, c: Int) {
        for r in 0..<n {
            (out + r * c).update(from: table + Int(ids[r]) * c, count: c)
        }
    }

    /// Accumulates dtable[ids[r]] += dout[r].
    public static func backward(dtable: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, ids: UnsafePointer<Int32>,
                                n: Int, c: Int) {
        // threads split the channels, so rows with the same id never race
        parallelChunks(c, minChunk: 32) { cols in
            for r in 0..<n {
                let row = dtable + Int(ids[r]) * c
                let g = dout + r * c
                for i in cols { row[i] += g[i] }
            }
        }
    }

    // MARK: naive reference

    public static func forwardNaive(out: UnsafeMutablePointer<Float>, ids: UnsafePointer<Int32>, table: UnsafePointer<Float>,
                                    n: Int, c: Int) {
        for r in 0..<n { for i in 0..<c { out[r * c + i] = table[Int(ids[r]) * c + i] } }
    }

    public static func backwardNaive(dtable: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, ids: UnsafePointer<Int32>,
                                     vocab: Int, n: Int, c: Int) {
        for v in 0..<vocab {
            for r in 0..<n where Int(ids[r]) == v {
                for i in 0..<c { dtable[v * c + i] += dout[r * c + i] }
            }
        }
    }
}
