// Finite-difference gradient checks: central differences of a scalar loss with respect to every
// element of a float buffer, compared against the analytic gradient of a backward pass.

import Tensors

public enum GradientCheck {
    /// ∂loss/∂x[i] ≈ (loss(x + eps·e_i) − loss(x − eps·e_i)) / 2eps for every i (x restored after).
    public static func numeric(_ x: FloatBuffer, eps: Float = 1e-2, loss: () -> Double) -> [Float] {
        var out = [Float](repeating: 0, count: x.count)
        for i in 0..<x.count {
            let saved = x[i]
            x[i] = saved + eps
            let plus = loss()
            x[i] = saved - eps
            let minus = loss()
            x[i] = saved
            out[i] = Float((plus - minus) / (2 * Double(eps)))
        }
        return out
    }

    /// A fixed random projection r so that loss = Σ out ⊙ r has ∂loss/∂out = r.
    public static func projection(count: Int, seed: UInt64) -> FloatBuffer {
        var rng = Philox(seed: seed, stream: 99)
        let b = FloatBuffer(count: count)
        for i in 0..<count { b[i] = rng.uniform() * 2 - 1 }
        return b
    }

    /// Σ a[i]·r[i] in Double.
    public static func project(_ a: FloatBuffer, _ r: FloatBuffer) -> Double {
        precondition(a.count == r.count)
        var s = 0.0
        for i in 0..<a.count { s += Double(a[i]) * Double(r[i]) }
        return s
    }
}

/// Random float buffers for tests.
public func randomBuffer(_ count: Int, seed: UInt64, scale: Float = 1) -> FloatBuffer {
    var rng = Philox(seed: seed, stream: 7)
    let b = FloatBuffer(count: count)
    for i in 0..<count { b[i] = rng.normal() * scale }
    return b
}
