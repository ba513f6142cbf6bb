// The SwiGLU gate of Qwen2/Llama MLPs: out = silu(gate) · up, silu(x) = x·sigmoid(x).
// n elements (rows × intermediate).

import Foundation

public enum SwiGLU {
    public static func forward(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, n: Int) {
        var i = 0
        while i + 16 <= n {
            let g = load(gate + i), u = load(up + i)
            store(g * VectorMath.sigmoid16(g) * u, out + i)
            i += 16
        }
        while i < n {
            let g = gate[i]
            out[i] = g / (1 + Foundation.exp(-g)) * up[i]
            i += 1
        }
    }

    /// Writes (not accumulates) dgate and dup: they are scratch activation gradients, and
    /// overwriting saves the model a pass zeroing them.
    public static func backward(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                                dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, n: Int) {
        let one = SIMD16<Float>(repeating: 1)
        var i = 0
        while i + 16 <= n {
            let g = load(gate + i), u = load(up + i), d = load(dout + i)
            let s = VectorMath.sigmoid16(g)
            store(d * g * s, dup + i)
            store(d * u * s * (one + g * (one - s)), dgate + i)
            i += 16
        }
        while i < n {
            let g = gate[i]
            let s = 1 / (1 + Foundation.exp(-g))
            dup[i] = dout[i] * g * s
            dgate[i] = dout[i] * up[i] * s * (1 + g * (1 - s))
            i += 1
        }
    }

    @inline(__always) static func load(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
        UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
    }

    @inline(__always) static func store(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
        UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
    }

    // MARK: naive reference

    public static func forwardNaive(out: UnsafeMutablePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, n: Int) {
        for i in 0..<n {
            let g = Double(gate[i])
            out[i] = Float(g / (1 + Foundation.exp(-g)) * Double(up[i]))
        }
    }

    public static func backwardNaive(dgate: UnsafeMutablePointer<Float>, dup: UnsafeMutablePointer<Float>,
                                     dout: UnsafePointer<Float>, gate: UnsafePointer<Float>, up: UnsafePointer<Float>, n: Int) {
        for i in 0..<n {
            let g = Double(gate[i]), u = Double(up[i]), d = Double(dout[i])
            let s = 1 / (1 + Foundation.exp(-g))
            dup[i] = Float(d * g * s)
            dgate[i] = Float(d * u * (s + g * s * (1 - s)))
        }
    }
}
