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
    public static func step(params: UnsafeMutablePointer<Float>, grads: UnsafePointer<Float>,
                            m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>,
                            count: Int, hyper h: AdamWHyper, t: Int, gradScale: Float = 1) {
        let bc1 = 1 - Foundation.pow(Double(h.beta1), Double(t))
        let bc2 = 1 - Foundation.pow(Double(h.beta2), Double(t))
        let stepSize = Float(Double(h.lr) / bc1)
        let bc2Sqrt = Float(bc2.squareRoot())
        let decay = 1 - h.lr * h.weightDecay
        let b1 = h.beta1, b2 = h.beta2, eps = h.eps
        for i in 0..<count {
            let g = grads[i] * gradScale
            var p = params[i] * decay
            let mi = m[i] + (g - m[i]) * (1 - b1)          // torch: m.lerp_(g, 1 − β1)
            let vi = v[i] * b2 + (1 - b2) * g * g          // torch: v.mul_(β2).addcmul_(g, g, 1 − β2)
            let denom = vi.squareRoot() / bc2Sqrt + eps
            p -= stepSize * (mi / denom)
            m[i] = mi
            v[i] = vi
            params[i] = p
        }
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
