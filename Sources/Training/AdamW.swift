// AdamW (Loshchilov & Hutter) over one flat parameter layout, as torch.optim.AdamW computes it,
// with global grad-norm clipping (torch.nn.utils.clip_grad_norm_) and a learning-rate schedule.
// The moments m, v share θ's layout, so saving the optimizer is saving two more tensor sets.

import Tensors

public struct AdamWConfig: Sendable, Equatable {
    /// Peak learning rate (the schedule scales it).
    public var lr: Float
    public var beta1: Float
    public var beta2: Float
    public var eps: Float
    public var weightDecay: Float
    /// Max global L2 norm of the gradients; nil or 0 disables clipping.
    public var clip: Float?
    public var schedule: LRSchedule

    /// PyTorch's defaults for everything but the learning rate.
    public init(lr: Float, beta1: Float = 0.9, beta2: Float = 0.999, eps: Float = 1e-8, weightDecay: Float = 0.01,
                clip: Float? = nil, schedule: LRSchedule = .constant) {
        self.lr = lr; self.beta1 = beta1; self.beta2 = beta2; self.eps = eps
        self.weightDecay = weightDecay; self.clip = clip; self.schedule = schedule
    }
}

public final class AdamW: @unchecked Sendable {
    public let config: AdamWConfig
    /// First and second moments (torch's exp_avg, exp_avg_sq).
    public let m: FloatBuffer
    public let v: FloatBuffer
    /// Steps taken so far.
    public private(set) var step: Int

    public init(config: AdamWConfig, count: Int) {
        self.config = config
        m = FloatBuffer(count: count)
        v = FloatBuffer(count: count)
        step = 0
    }

    /// Resumes from saved moments and step count.
    public init(config: AdamWConfig, m: FloatBuffer, v: FloatBuffer, step: Int) {
        precondition(m.count == v.count && step >= 0)
        self.config = config
        self.m = m
        self.v = v
        self.step = step
    }

    public struct StepInfo: Sendable, Equatable {
        /// Global L2 norm of the gradients before clipping.
        public var gradNorm: Double
        public var lr: Float
    }

    /// One update of `params` from `grads` (clipping is folded into the update). With
    /// `clearGrads` the gradients are zeroed in the same pass, else left as they were.
    @discardableResult
    public func update(params: FloatBuffer, grads: FloatBuffer, clearGrads: Bool = false) -> StepInfo {
        precondition(params.count == m.count && grads.count == m.count, "optimizer state and parameters differ in size")
        let norm = AdamW.globalNorm(grads)
        var scale: Float = 1
        if let clip = config.clip, clip > 0 {
            scale = min(1, Float(Double(clip) / (norm + 1e-6)))
        }
        step += 1
        let lr = config.lr * config.schedule.factor(step: step - 1)
        let hyper = AdamWHyper(lr: lr, beta1: config.beta1, beta2: config.beta2, eps: config.eps, weightDecay: config.weightDecay)
        AdamWKernel.step(params: params.pointer, grads: grads.pointer, m: m.pointer, v: v.pointer,
                         count: params.count, hyper: hyper, t: step, gradScale: scale, clearGrads: clearGrads)
        return StepInfo(gradNorm: norm, lr: lr)
    }

    /// ‖g‖₂: float sums over 4096-element blocks, added in Double in block order (the same
    /// result for any thread count).
    public static func globalNorm(_ g: FloatBuffer) -> Double {
        let p = g.readPointer
        let n = g.count, blocks = (n + 4095) / 4096
        let partial = FloatBuffer(count: blocks)
        let out = partial.pointer
        parallelChunks(blocks, minChunk: 64) { range in
            for b in range { out[b] = VectorMath.sumOfSquares(p + b * 4096, min(4096, n - b * 4096)) }
        }
        var total = 0.0
        for b in 0..<blocks { total += Double(out[b]) }
        return total.squareRoot()
    }
}

/// Learning-rate multipliers by step (0-based), as in transformers' schedulers.
public enum LRSchedule: Sendable, Equatable {
    case constant
    /// Linear warmup from 0 over `warmup` steps, then constant.
    case constantWithWarmup(warmup: Int)
    /// Linear warmup, then linear decay to 0 at `total`.
    case linear(warmup: Int, total: Int)
    /// Linear warmup, then half-cosine decay to `minRatio` at `total`.
    case cosine(warmup: Int, total: Int, minRatio: Float)

    public func factor(step: Int) -> Float {
        switch self {
        case .constant:
            return 1
        case let .constantWithWarmup(warmup):
            return step < warmup ? Float(step) / Float(max(1, warmup)) : 1
        case let .linear(warmup, total):
            if step < warmup { return Float(step) / Float(max(1, warmup)) }
            return max(0, Float(total - step) / Float(max(1, total - warmup)))
        case let .cosine(warmup, total, minRatio):
            if step < warmup { return Float(step) / Float(max(1, warmup)) }
            let progress = min(1, Float(step - warmup) / Float(max(1, total - warmup)))
            let cosine = 0.5 * (1 + Float(cos(Double.pi * Double(progress))))
            return minRatio + (1 - minRatio) * cosine
        }
    }
}

import Foundation
