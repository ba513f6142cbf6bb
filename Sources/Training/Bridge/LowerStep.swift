// The lower-level step of every method (ALGORITHM.md, "One BRIDGE iteration"): the gradients of θ
// (and θ̂) at the old iterates, one AdamW step each, and the adapter's gradient for the upper step.
// Loss form (minimised):
//   Gθ = (1−λ)·∇θ L_sft(θ,w) + λ·∇θ L_rl(θ,w)          Gθ̂ = ∇θ̂ L_rl(θ̂,w)
//   Gw = (1−λ)·∇w L_sft(θ,w) + λ·[∇w L_rl(θ,w) − ∇w L_rl(θ̂,w)]   (the cooperative-gain term)
// Two backward passes per iteration: SFT and RL rows together at θ (weights 1−λ and λ), then RL
// at θ̂. While θ̂ holds θ's bytes and the rollouts are shared, the RL gradients at θ and θ̂ are
// the same bits, so one RL pass serves both (beside its own SFT pass) and the cooperative-gain
// term is exactly zero. Methods without a shadow (sft, rl-zero, naive-mixing, the halves of
// naive-alternating and cold-start) are the θ side alone, with or without an adapter.

import LanguageModel
import Tensors

/// The data of one lower step.
public struct LowerStepData: Sendable {
    /// SFT examples as prompt → target completions (loss on the target tokens, temperature 1).
    public var sft: CompletionBatch?
    /// The θ pass's rollouts with advantages (and reference log-probs when β > 0).
    public var rl: RLBatch?
    /// The θ̂ pass's rollouts when they are sampled separately from θ̂ + w; nil: the θ pass's (shared).
    public var shadowRL: RLBatch?

    public init(sft: CompletionBatch? = nil, rl: RLBatch? = nil, shadowRL: RLBatch? = nil) {
        self.sft = sft
        self.rl = rl
        self.shadowRL = shadowRL
    }
}

/// A base model and its optimizer, updated in place.
public struct TrainedPart {
    public let model: Transformer
    public let optimizer: AdamW

    public init(model: Transformer, optimizer: AdamW) {
        precondition(optimizer.m.count == model.layout.totalCount, "optimizer state and model differ in size")
        self.model = model
        self.optimizer = optimizer
    }
}

public struct LowerStepReport: Sendable {
    public var lambda: Double
    public var sftLoss: Double?
    public var sftTokens = 0
    /// GRPO terms of the θ pass and of the θ̂ pass (nil where there was none).
    public var rl: GRPOTerms?
    public var shadowRL: GRPOTerms?
    public var theta: AdamW.StepInfo?
    public var thetaHat: AdamW.StepInfo?
    /// ‖Gw‖ before clipping (the upper step clips).
    public var loraGradNorm: Double?
    /// ‖λ·(∇w L_rl(θ,w) − ∇w L_rl(θ̂,w))‖ where it is computed apart (0 while θ̂ ≡ θ and shared).
    public var gainGradNorm: Double?
    /// The cooperative gain J_RL(θ,w) − J_RL(θ̂,w) estimated on shared rollouts to first order:
    /// Σ weight·A·(log π_θ − log π_θ̂) over the sampled tokens (GRPOTerms.advantageLogProb of the
    /// two passes). Exactly 0 while θ̂ ≡ θ; nil with separate shadow rollouts (the runner then
    /// reports the reward difference of the two rollouts instead).
    public var cooperativeGain: Double?
    /// One RL pass served θ and θ̂ (θ̂ ≡ θ, shared rollouts).
    public var sharedRLPass = false
    /// Backward passes run.
    public var passes = 0

    public init(lambda: Double) { self.lambda = lambda }
}

public enum LowerStep {
    /// Runs one lower step in memory: updates `theta` (and `shadow`) in place and writes Gw into
    /// `loraGrads` (overwritten; needs `lora`). `shadowIsTheta`: θ̂ holds θ's bytes (the same stored
    /// object), so with shared rollouts one RL pass serves both; `shadow.model` must still be its
    /// own copy. The lower-step stage runs the same two sides one after the other, storing and
    /// releasing θ's before it loads θ̂'s.
    @discardableResult
    public static func run(theta: TrainedPart, shadow: TrainedPart? = nil, shadowIsTheta: Bool = false,
                           lora: LoRAAdapter? = nil, loraGrads: FloatBuffer? = nil,
                           data: LowerStepData, lambda: Double, config: GRPOConfig,
                           chunk: Int = 8, threads: Int = KernelThreads.available) throws(ModelError) -> LowerStepReport {
        precondition(shadow == nil || lora != nil, "the shadow exists only with an adapter")
        precondition(shadow.map { $0.model !== theta.model } ?? true, "θ̂ needs its own parameter buffer")
        var report = LowerStepReport(lambda: lambda)
        let (g, shared) = try thetaGradients(model: theta.model, lora: lora, loraGrads: loraGrads, data: data, lambda: lambda, config: config,
                                             servesShadow: shadow != nil && shadowIsTheta, chunk: chunk, threads: threads, report: &report)
        report.theta = theta.optimizer.update(params: theta.model.params, grads: g)
        if let shadow, let lora {
            let gHat: FloatBuffer
            if let shared { gHat = shared } else {
                gHat = try shadowGradients(model: shadow.model, lora: lora, loraGrads: loraGrads, data: data, lambda: lambda,
                                           config: config, chunk: chunk, threads: threads, report: &report)
            }
            report.thetaHat = shadow.optimizer.update(params: shadow.model.params, grads: gHat)
        }
        if let loraGrads { report.loraGradNorm = AdamW.globalNorm(loraGrads) }
        return report
    }

    /// θ's side: Gθ at (θ, w) and the θ pass's terms of Gw (`loraGrads`, overwritten). With
    /// `servesShadow` (θ̂ holds θ's bytes) and shared rollouts, an SFT pass and one RL pass whose
    /// gradient is also θ̂'s, returned as `shadow` (the cooperative-gain term is then exactly 0);
    /// otherwise (1−λ)·SFT + λ·RL in one pass.
    public static func thetaGradients(model: Transformer, lora: LoRAAdapter?, loraGrads: FloatBuffer?, data: LowerStepData,
                                      lambda: Double, config: GRPOConfig, servesShadow: Bool, chunk: Int = 8,
                                      threads: Int = KernelThreads.available,
                                      report: inout LowerStepReport) throws(ModelError) -> (theta: FloatBuffer, shadow: FloatBuffer?) {
        precondition(lambda >= 0 && lambda <= 1, "λ in [0, 1]")
        precondition(loraGrads == nil || lora != nil)
        let λ = Float(lambda)
        let P = model.layout.totalCount
        if let loraGrads { loraGrads.zero() }
        guard servesShadow, data.shadowRL == nil else {
            let g = FloatBuffer(count: P)
            let t = try PolicyGradient.pass(model: model, lora: lora, sft: data.sft, sftScale: 1 - λ, rl: data.rl, rlScale: λ,
                                            config: config, grads: g, loraGrads: loraGrads, chunk: chunk, threads: threads)
            (report.sftLoss, report.sftTokens, report.rl) = (t.sftLoss, t.sftTokens, t.rl)
            report.passes += 1
            return (g, nil)
        }
        // θ̂ ≡ θ, shared rollouts: an SFT pass and one RL pass at θ; Gθ̂ = gθ_rl, gain = 0.
        let gSFT = FloatBuffer(count: P), gRL = FloatBuffer(count: P)
        if λ < 1, let sft = data.sft {
            let t = try PolicyGradient.pass(model: model, lora: lora, sft: sft, config: config,
                                            grads: gSFT, loraGrads: loraGrads, chunk: chunk, threads: threads)
            (report.sftLoss, report.sftTokens) = (t.sftLoss, t.sftTokens)
            report.passes += 1
        }
        if let rl = data.rl {
            report.rl = try PolicyGradient.pass(model: model, lora: lora, rl: rl, config: config,
                                                grads: gRL, chunk: chunk, threads: threads).rl
            report.shadowRL = report.rl
            report.passes += 1
        }
        if let loraGrads, λ < 1 { VectorMath.scale(loraGrads.pointer, 1 - λ, loraGrads.count) }
        if λ < 1 { combine(gSFT, 1 - λ, gRL, λ) }
        report.gainGradNorm = 0
        if report.rl != nil { report.cooperativeGain = 0 }
        report.sharedRLPass = true
        return (λ < 1 ? gSFT : gRL, gRL)
    }

    /// θ̂'s side: Gθ̂ = ∇θ̂ L_rl(θ̂,w) on θ̂'s rollouts (`data.shadowRL`, else the shared ones), and
    /// the cooperative-gain term: −λ·∇w L_rl(θ̂,w) added to `loraGrads` (which holds θ's side).
    public static func shadowGradients(model: Transformer, lora: LoRAAdapter, loraGrads: FloatBuffer?, data: LowerStepData,
                                       lambda: Double, config: GRPOConfig, chunk: Int = 8, threads: Int = KernelThreads.available,
                                       report: inout LowerStepReport) throws(ModelError) -> FloatBuffer {
        guard let rl = data.shadowRL ?? data.rl else { preconditionFailure("θ̂'s pass needs rollouts") }
        let g = FloatBuffer(count: model.layout.totalCount)
        // ∇w L_rl(θ̂,w) only where it is wanted (not in later inner steps: Gw is taken at the old iterates)
        let wHat = loraGrads.map { _ in FloatBuffer(count: lora.layout.totalCount) }
        report.shadowRL = try PolicyGradient.pass(model: model, lora: lora, rl: rl, config: config,
                                                  grads: g, loraGrads: wHat, chunk: chunk, threads: threads).rl
        report.passes += 1
        if data.shadowRL == nil, let a = report.rl, let b = report.shadowRL {
            report.cooperativeGain = a.advantageLogProb - b.advantageLogProb
        }
        if let loraGrads, let wHat { combine(loraGrads, 1, wHat, -Float(lambda)) }
        return g
    }

    /// a ← α·a + β·b, element by element in f32 (the reference's order: α·a first).
    static func combine(_ a: FloatBuffer, _ alpha: Float, _ b: FloatBuffer, _ beta: Float) {
        let pa = a.pointer, pb = b.readPointer
        parallelChunks(a.count, minChunk: 1 << 16) { range in
            for i in range { pa[i] = alpha * pa[i] + beta * pb[i] }
        }
    }
}
