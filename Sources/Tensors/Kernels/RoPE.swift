// Rotary position embedding in the Hugging Face "rotate_half" layout: within each head of D
// channels, channel i pairs with i + D/2 (i < D/2) and rotates by angle pos·invFreq[i].
// Rows carry H heads of D channels; positions[row] gives each row's position.

import Foundation

public enum RoPE {
    /// The llama3 frequency rescaling (Llama 3.1/3.2 `rope_scaling` with `rope_type: "llama3"`).
    public struct Llama3Scaling: Sendable, Equatable {
        public var factor: Double
        public var lowFreqFactor: Double
        public var highFreqFactor: Double
        public var originalMaxPositionEmbeddings: Int

        public init(factor: Double, lowFreqFactor: Double, highFreqFactor: Double, originalMaxPositionEmbeddings: Int) {
            self.factor = factor
            self.lowFreqFactor = lowFreqFactor
            self.highFreqFactor = highFreqFactor
            self.originalMaxPositionEmbeddings = originalMaxPositionEmbeddings
        }
    }

    /// invFreq[i] = θ^(−2i/D), i < D/2, computed like transformers (f32 pow), then llama3-scaled.
    public static func inverseFrequencies(headDim: Int, theta: Double, llama3: Llama3Scaling? = nil) -> [Float] {
        var inv = (0..<(headDim / 2)).map { i -> Float in
            1 / Float(pow(Float(theta), Float(2 * i) / Float(headDim)))
        }
        if let s = llama3 {
            let old = Float(s.originalMaxPositionEmbeddings)
            let lowWavelen = old / Float(s.lowFreqFactor)
            let highWavelen = old / Float(s.highFreqFactor)
            let factor = Float(s.factor)
            inv = inv.map { f in
                let wavelen = 2 * Float.pi / f
                var scaled = wavelen > lowWavelen ? f / factor : f
                let medium = !(wavelen < highWavelen) && !(wavelen > lowWavelen)
                if medium {
                    let smooth = (old / wavelen - Float(s.lowFreqFactor)) / Float(s.highFreqFactor - s.lowFreqFactor)
                    scaled = (1 - smooth) * scaled / factor + smooth * scaled
                }
                return scaled
            }
        }
        return inv
    }

    /// cos/sin tables [positions, D/2]: angle = Float(pos) · invFreq[i] in f32 (as transformers).
    public static func tables(invFreq: [Float], positions: Int) -> (cos: [Float], sin: [Float]) {
        let half = invFreq.count
        var c = [Float](repeating: 0, count: positions * half)
        var s = c
        for p in 0..<positions {
            for i in 0..<half {
                let angle = Float(p) * invFreq[i]
                c[p * half + i] = Foundation.cos(angle)
                s[p * half + i] = Foundation.sin(angle)
            }
        }
        return (c, s)
    }

    /// In place: x[row, h, :] rotated by +angle(positions[row]). Forward pass.
    public static func forward(_ x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
                               cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                               rows: Int, heads: Int, headDim: Int) {
        rotate(x, positions: positions, cos: cos, sin: sin, rows: rows, heads: heads, headDim: headDim, sign: 1)
    }

    /// In place: the gradient through the rotation is the inverse rotation (−angle).
    public static func backward(_ dx: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
                                cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                                rows: Int, heads: Int, headDim: Int) {
        rotate(dx, positions: positions, cos: cos, sin: sin, rows: rows, heads: heads, headDim: headDim, sign: -1)
    }

    /// One row of `heads` heads: out = rotate(inp) by ±angle(position); out may equal inp.
    @inline(__always)
    public static func rotateRow(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, position: Int,
                                 cos: UnsafePointer<Float>, sin: UnsafePointer<Float>, heads: Int, headDim: Int, sign: Float) {
        let half = headDim / 2
        let c = cos + position * half, s = sin + position * half
        for h in 0..<heads {
            let x = inp + h * headDim, y = out + h * headDim
            for i in 0..<half {
                let a = x[i], b = x[i + half]
                let si = sign * s[i]
                y[i] = a * c[i] - b * si
                y[i + half] = b * c[i] + a * si
            }
        }
    }

    /// In place, every row by ±angle(positions[row]): `rotateRow` (the kernel the model runs) over the rows.
    public static func rotate(_ x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
                       cos: UnsafePointer<Float>, sin: UnsafePointer<Float>,
                       rows: Int, heads: Int, headDim: Int, sign: Float) {
        parallelChunks(rows, minChunk: max(1, 8192 / max(1, heads * headDim))) { chunk in
            for r in chunk {
                let v = x + r * heads * headDim
                rotateRow(out: v, inp: v, position: Int(positions[r]), cos: cos, sin: sin, heads: heads, headDim: headDim, sign: sign)
            }
        }
    }

    // MARK: naive reference (angles from scratch in Double, explicit rotate_half)

    public static func forwardNaive(_ x: UnsafeMutablePointer<Float>, positions: UnsafePointer<Int32>,
                                    invFreq: [Float], rows: Int, heads: Int, headDim: Int) {
        let half = headDim / 2
        var rotated = [Float](repeating: 0, count: headDim)
        for r in 0..<rows {
            for h in 0..<heads {
                let v = x + (r * heads + h) * headDim
                for i in 0..<headDim { rotated[i] = i < half ? -v[i + half] : v[i - half] }
                for i in 0..<headDim {
                    let angle = Double(positions[r]) * Double(invFreq[i % half])
                    v[i] = Float(Double(v[i]) * Foundation.cos(angle) + Double(rotated[i]) * Foundation.sin(angle))
                }
            }
        }
    }
}
