// One AdamW update over a flat parameter vector, in PyTorch's order of operations
// (torch.optim.AdamW, foreach=False): decay, moments, bias-corrected step.

import Foundation

public struct AdamWHyper: Sendable, Equatable {
    public var lr: Float
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float
    public init(lr: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01) {
        self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps; self.weightDecay = weightDecay
    }
}

public enum AdamWKernel {
    /// Step `t` (1-based). Gradients are multiplied by `gradScale` first (grad-norm clipping).
    /// With `clearGrads` the gradients are zeroed in the same pass (ready for the next step).
    public static func step(params: UnsafeMutablePointer<Float>, grads: UnsafeMutablePointer<Float>,
                            m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                            count: Int, hyper h: AdamWHyper, t: Int, gradScale: Float = 1, clearGrads: Bool = false) {
        let bc1 = 1 - Foundation.pow(Double(h.beta1), Double(t))
        let bc2 = 1 - Foundation.pow(Double(h.beta2), Double(t))
        let stepSize = Float(Double(h.lr) / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let decay = 1 - h.lr * h.weightDecay
        let b1 = h.beta1, b2 = h.beta2, eps = h.eps
        @inline(__always) func scalar(_ i: Int) {
            let g = grads[i] * gradScale
            var p = params[i] * decay
            let mi = m[i] + (g - m[i]) * (1 - b1)          // torch: m.lerp_(g, 1 − β1)
            let vi = v[i] * b2 + (1 - b2) * g * g          // torch: v.mul_(β2).addcmul_(g, g, 1 − β2)
            let denom = vi.squareRoot() / bc2Sqrt + eps
            p -= stepSize * (mi / denom)
            m[i] = mi
            v[i] = vi
            params[i] = p
            if clearGrads { grads[i] = 0 }
        }
        typealias V = SIMD16<Float>
        parallelChunks(count / 16, minChunk: 4096) { blocks in
            let vScale = V(repeating: gradScale), vDecay = V(repeating: decay), vB1 = V(repeating: 1 - b1)
            let vB2 = V(repeating: b2), vB2c = V(repeating: 1 - b2), vBc2 = V(repeating: bc2Sqrt), vEps = V(repeating: eps)
            let vStep = V(repeating: stepSize)
            for blk in blocks {
                let i = blk * 16
                let g = UnsafeRawPointer(grads + i).loadUnaligned(as: V.self) * vScale
                let p = UnsafeRawPointer(params + i).loadUnaligned(as: V.self) * vDecay
                let m0 = UnsafeRawPointer(m + i).loadUnaligned(as: V.self)
                let mi = m0 + (g - m0) * vB1
                let vi = UnsafeRawPointer(v + i).loadUnaligned(as: V.self) * vB2 + vB2c * g * g
                let denom = VectorMath.sqrt16(vi) / vBc2 + vEps
                UnsafeMutableRawPointer(params + i).storeBytes(of: p - vStep * (mi / denom), as: V.self)
                UnsafeMutableRawPointer(m + i).storeBytes(of: mi, as: V.self)
                UnsafeMutableRawPointer(v + i).storeBytes(of: vi, as: V.self)
                if clearGrads { UnsafeMutableRawPointer(grads + i).storeBytes(of: V(), as: V.self) }
            }
        }
        for i in (count / 16 * 16)..<count { scalar(i) }
    }

    // MARK: naive reference (textbook form, Double)

    public static func stepNaive(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>,
                                 m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                                 count: Int, hyper h: AdamWHyper, t: Int, gradScale: Float = 1) {
        let b1 = Double(h.beta1), b2 = Double(h.beta2)
        for i in 0..<count {
            let g = Double(grads[i]) * Double(gradScale)
            var p = Double(params[i])
            p -= Double(h.lr) * Double(h.weightDecay) * p
            let mi = b1 * Double(m[i]) + (1 - b1) * g
            let vi = b2 * Double(v[i]) + (1 - b2) * g * g
            let mhat = mi / (1 - Foundation.pow(b1, Double(t)))
            let vhat = vi / (1 - Foundation.pow(b2, Double(t)))
            p -= Double(h.lr) * mhat / (vhat.squareRoot() + Double(h.eps))
            m[i] = Float(mi); v[i] = Float(vi); params[i] = Float(p)
        }
    }
}
