// Invariants of the BRIDGE iteration that hold by construction (ALGORITHM.md), checked bit for bit
// where the algorithm says "exactly", and by finite differences for the sign of the
// cooperative-gain gradient. Data and weights: the BRIDGE reference fixture (tools/bridge_reference.py).

import Testing
import LanguageModel
import Tensors
import TestSupport
import Training

@Suite struct BridgeInvariantTests {
    /// The chunks (shortest first, each padded to its own longest sequence, SFT and RL rows
    /// mixed) change nothing but rounding: the same loss terms and gradients as one chunk of the
    /// whole batch padded to its longest; and the reference log-probs come back in batch order.
    @Test(arguments: [1, 3, 5])
    func chunkingChangesOnlyRounding(chunk: Int) throws {
        let f = try BridgeFixture()
        let m = try f.model(f.theta0), w = f.adapter(f.lora0)
        for i in 0..<w.params.count where w.params[i] == 0 { w.params[i] = 0.01 * Float(i % 7 - 3) }   // B ≠ 0
        let sft = f.sft(0), rl = f.rl(0)
        #expect(Set(rl.batch.completions.map(\.count)).count > 1, "the fixture's completions differ in length")
        func run(_ chunk: Int) throws -> (PassTerms, [Float], [Float], [[Float]]) {
            let g = FloatBuffer(count: m.params.count), gw = FloatBuffer(count: w.params.count)
            let terms = try PolicyGradient.pass(model: m, lora: w, sft: sft, sftScale: 0.5, rl: rl, rlScale: 0.5, config: f.grpo,
                                                grads: g, loraGrads: gw, chunk: chunk, threads: 2)
            let logps = try PolicyGradient.logProbs(model: m, lora: w, batch: rl.batch, temperature: f.grpo.temperature, chunk: chunk, threads: 2)
            return (terms, g.array, gw.array, logps)
        }
        let whole = try run(sft.count + rl.batch.count), chunked = try run(chunk)
        expectClose(chunked.1, whole.1, rtol: 1e-5, "θ gradient")
        expectClose(chunked.2, whole.2, rtol: 1e-5, "w gradient")
        #expect(abs(chunked.0.rl!.loss - whole.0.rl!.loss) <= 1e-5 * max(1, abs(whole.0.rl!.loss)))
        #expect(abs(chunked.0.sftLoss! - whole.0.sftLoss!) <= 1e-5 * whole.0.sftLoss!)
        #expect(chunked.3.map(\.count) == rl.batch.completions.map(\.count))
        expectClose(chunked.3.flatMap { $0 }, whole.3.flatMap { $0 }, rtol: 1e-5, "log-probs")
    }

    /// θ's gradient through an adapter does not depend on whether w's is taken too (θ̂'s later
    /// inner steps skip w's, since Gw is taken at the old iterates): the same bits either way.
    @Test func thetaGradientIsTheSameBitsWithOrWithoutTheAdaptersGradient() throws {
        let f = try BridgeFixture()
        let m = try f.model(f.theta0), w = f.adapter(f.lora0)
        for i in 0..<w.params.count where w.params[i] == 0 { w.params[i] = 0.01 * Float(i % 7 - 3) }   // B ≠ 0
        func thetaGradient(withW: Bool) throws -> [Float] {
            let g = FloatBuffer(count: m.params.count)
            try PolicyGradient.pass(model: m, lora: w, rl: f.rl(1), config: f.grpo, grads: g,
                                    loraGrads: withW ? FloatBuffer(count: w.params.count) : nil, chunk: 4, threads: 2)
            return g.array
        }
        let with = try thetaGradient(withW: true), without = try thetaGradient(withW: false)
        #expect(with.contains { $0 != 0 })
        #expect(zip(with, without).allSatisfy { $0.bitPattern == $1.bitPattern })
    }

    /// λ = 1 and a frozen adapter (B = 0): θ follows RL-zero bit for bit, and θ̂ stays θ.
    @Test func lambdaOneWithAFrozenAdapterIsRLZeroBitForBit() throws {
        let f = try BridgeFixture()
        let theta = try f.part(f.theta0), shadow = try f.part(f.theta0), rlZero = try f.part(f.theta0)
        let w = f.adapter(f.lora0)
        let frozen = AdamW(config: AdamWConfig(lr: 0, weightDecay: f.weightDecay, clip: f.clip), count: w.params.count)
        let gw = FloatBuffer(count: w.params.count)
        for k in 0..<3 {
            let same = theta.model.params.array == shadow.model.params.array
            #expect(same, "θ̂ ≡ θ before iteration \(k)")
            let r = try LowerStep.run(theta: theta, shadow: shadow, shadowIsTheta: same, lora: w, loraGrads: gw,
                                      data: LowerStepData(sft: f.sft(k), rl: f.rl(k)), lambda: 1, config: f.grpo, chunk: 4, threads: 2)
            #expect(r.passes == 1 && r.sharedRLPass && r.gainGradNorm == 0)
            frozen.update(params: w.params, grads: gw)
            try LowerStep.run(theta: rlZero, data: LowerStepData(sft: f.sft(k), rl: f.rl(k)), lambda: 1, config: f.grpo, chunk: 4, threads: 2)
            #expect(theta.model.params.array == rlZero.model.params.array, "iteration \(k): θ differs from RL-zero")
            #expect(shadow.model.params.array == theta.model.params.array, "iteration \(k): θ̂ differs from θ")
            #expect(shadow.optimizer.m.array == theta.optimizer.m.array && shadow.optimizer.v.array == theta.optimizer.v.array)
        }
        #expect(w.params.array == f.lora0.array, "lr 0 leaves w as it was")
        #expect(theta.model.params.array != f.theta0.array)
    }

    /// At step 0 (θ̂⁰ = θ⁰, shared rollouts) ∇w L_rl(θ, w) − ∇w L_rl(θ̂, w) is exactly zero, even
    /// computed as two separate passes on two copies; Gw is then (1−λ)·∇w L_sft exactly.
    @Test func theCooperativeGainGradientIsExactlyZeroAtStepZero() throws {
        let f = try BridgeFixture()
        let w = f.adapter(f.lora0)
        // a non-zero B, so that the w-gradients are not trivially zero
        var rng = Philox(seed: 5)
        for pairs in w.layout.layers { for p in pairs { rng.fillNormal(w.params.pointer + p.b, count: p.outFeatures * f.loraConfig.r, std: 0.05) } }
        func rlGrad(_ m: Transformer) throws -> [Float] {
            let g = FloatBuffer(count: w.layout.totalCount)
            try PolicyGradient.pass(model: m, lora: w, rl: f.rl(0), config: f.grpo, grads: nil, loraGrads: g, chunk: 4, threads: 2)
            return g.array
        }
        let a = try rlGrad(try f.model(f.theta0)), b = try rlGrad(try f.model(f.theta0))
        #expect(a.contains { $0 != 0 })
        #expect(zip(a, b).allSatisfy { $0 - $1 == 0 }, "gain gradient not exactly zero")

        let gw = FloatBuffer(count: w.layout.totalCount), sftOnly = FloatBuffer(count: w.layout.totalCount)
        let r = try LowerStep.run(theta: try f.part(f.theta0), shadow: try f.part(f.theta0), shadowIsTheta: true, lora: w, loraGrads: gw,
                                  data: LowerStepData(sft: f.sft(0), rl: f.rl(0)), lambda: 0.5, config: f.grpo, chunk: 4, threads: 2)
        #expect(r.gainGradNorm == 0 && r.passes == 2)
        try PolicyGradient.pass(model: try f.model(f.theta0), lora: w, sft: f.sft(0), config: f.grpo, grads: nil, loraGrads: sftOnly, chunk: 4, threads: 2)
        #expect(gw.array == sftOnly.array.map { 0.5 * $0 })
    }

    /// With θ ≠ θ̂ (the reference's state after two iterations, separate rollouts), a small step of
    /// w against the computed Gw (λ = 1: the cooperative-gain term alone) raises
    /// J_RL(θ, w) − J_RL(θ̂, w) on fixed rollouts, by ε·‖Gw‖² to first order.
    @Test func aStepOfWAlongItsUpdateRaisesTheCooperativeGain() throws {
        let f = try BridgeFixture()
        let (thetaP, hatP, w0) = f.iterates("const_separate", step: 2)
        let rl = f.rl(2)
        let theta = try f.model(thetaP), hat = try f.model(hatP)
        let old = try PolicyGradient.logProbs(model: theta, lora: f.adapter(w0), batch: rl.batch, temperature: f.grpo.temperature)
        let oldHat = try PolicyGradient.logProbs(model: hat, lora: f.adapter(w0), batch: rl.batch, temperature: f.grpo.temperature)

        // J_RL(θ, w) − J_RL(θ̂, w), each with its own fixed old log-probs (ρ = 1 at w⁰)
        func gain(_ w: FloatBuffer) throws -> Double {
            func j(_ m: Transformer, _ old: [[Float]]) throws -> Double {
                let logps = try PolicyGradient.logProbs(model: m, lora: f.adapter(w), batch: rl.batch, temperature: f.grpo.temperature)
                return -GRPOObjective.terms(config: f.grpo, logps: logps, oldLogps: old, refLogps: rl.refLogps, advantages: rl.advantages).loss
            }
            return try j(theta, old) - j(hat, oldHat)
        }
        let gw = FloatBuffer(count: w0.count)
        try LowerStep.run(theta: try f.part(thetaP), shadow: try f.part(hatP), lora: f.adapter(w0), loraGrads: gw,
                          data: LowerStepData(rl: rl), lambda: 1, config: f.grpo, chunk: 4, threads: 2)
        let g = gw.array
        let squared = g.reduce(0.0) { $0 + Double($1) * Double($1) }
        #expect(squared > 0)
        let eps: Float = 1e-2 / Float(squared.squareRoot())
        let plus = FloatBuffer(zip(w0.array, g).map { $0 - eps * $1 }), minus = FloatBuffer(zip(w0.array, g).map { $0 + eps * $1 })
        let up = try gain(plus), down = try gain(minus), here = try gain(w0)
        #expect(up > here && here > down, "gain \(down) → \(here) → \(up) along −Gw")
        let slope = (up - down) / (2 * Double(eps)), expected = squared
        #expect(abs(slope - expected) <= 0.05 * expected, "directional derivative \(slope) vs ‖Gw‖² \(expected)")
    }

    /// The reported cooperative gain on shared rollouts is Σ weight·A·(log π_θ − log π_θ̂) at the
    /// old iterates, computed here from the two policies' log-probs apart from the lower step;
    /// it is positive when θ favours the high-advantage tokens more than θ̂ does, and exactly 0
    /// while θ̂ ≡ θ.
    @Test func theReportedCooperativeGainIsTheAdvantageWeightedLogProbGap() throws {
        let f = try BridgeFixture()
        let (thetaP, hatP, w0) = f.iterates("const_shared", step: 2)
        let rl = f.rl(2)
        let lp = try PolicyGradient.logProbs(model: try f.model(thetaP), lora: f.adapter(w0), batch: rl.batch, temperature: f.grpo.temperature)
        let lpHat = try PolicyGradient.logProbs(model: try f.model(hatP), lora: f.adapter(w0), batch: rl.batch, temperature: f.grpo.temperature)
        let total = lp.reduce(0) { $0 + $1.count }
        var expected = 0.0, scale = 0.0
        for i in lp.indices {
            let w = GRPOObjective.weight(f.grpo.lossType, length: lp[i].count, sequences: lp.count, batchTokens: total,
                                         maxCompletionLength: f.grpo.maxCompletionLength)
            for t in lp[i].indices {
                expected += w * Double(rl.advantages[i]) * (Double(lp[i][t]) - Double(lpHat[i][t]))
                scale += w * abs(Double(rl.advantages[i])) * (abs(Double(lp[i][t])) + abs(Double(lpHat[i][t])))
            }
        }
        let r = try LowerStep.run(theta: try f.part(thetaP), shadow: try f.part(hatP), lora: f.adapter(w0), loraGrads: FloatBuffer(count: w0.count),
                                  data: LowerStepData(sft: f.sft(2), rl: rl), lambda: 0.5, config: f.grpo, chunk: 4, threads: 2)
        let gain = try #require(r.cooperativeGain)
        #expect(expected != 0)
        // the log-probs are f32 and come from differently composed batches: a tolerance relative to
        // the size of the summed terms
        #expect(abs(gain - expected) <= 1e-5 * scale, "reported \(gain), computed \(expected) (terms of size \(scale))")
        // at step 0 (θ̂ ≡ θ, one shared pass) it is exactly 0
        let same = try LowerStep.run(theta: try f.part(thetaP), shadow: try f.part(thetaP), shadowIsTheta: true, lora: f.adapter(w0),
                                     loraGrads: FloatBuffer(count: w0.count), data: LowerStepData(sft: f.sft(2), rl: rl), lambda: 0.5,
                                     config: f.grpo, chunk: 4, threads: 2)
        #expect(same.cooperativeGain == 0)
    }
}

extension BridgeFixture {
    /// The reference's θ, θ̂ and w after `step` iterations of a scenario (golden.safetensors).
    func iterates(_ scenario: String, step: Int) -> (theta: FloatBuffer, thetaHat: FloatBuffer, lora: FloatBuffer) {
        let base = ParameterLayout(config: config).entries, adapter = LoRALayout(config: config, lora: loraConfig).entries
        let prefix = "\(scenario).step\(step)."
        return (FloatBuffer(expected(prefix + "theta.", base)), FloatBuffer(expected(prefix + "theta_hat.", base)),
                FloatBuffer(expected(prefix + "lora.", adapter)))
    }
}
