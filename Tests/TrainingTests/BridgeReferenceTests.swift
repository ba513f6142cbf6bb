// Algorithm 2 end to end against tools/bridge_reference.py (PyTorch + PEFT written from
// ALGORITHM.md, three torch.optim.AdamW, clip_grad_norm_): 3 BRIDGE iterations on fixed rollouts
// and SFT batches, for λ = 0.5, a linear λ ramp, shared and separate shadow rollouts; θ, θ̂ and w
// after every iteration agree within 1e-4 of that iteration's update norm. One iteration of each
// baseline (sft, rl-zero, naive mixing, naive alternating, cold-start) the same way. Then the
// invariants: λ = 1 with a frozen adapter is RL-zero bit for bit; λ = 1 with shared rollouts keeps
// θ̂ ≡ θ; the cooperative-gain gradient is exactly zero at step 0; a small step of w along it
// raises J_RL(θ, w) − J_RL(θ̂, w) on fixed rollouts.

import Foundation
import Testing
import LanguageModel
import Tensors
import TestSupport
import Training

private let bridgeDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/bridge").path

struct BridgeFixture {
    let config: ModelConfig
    let theta0: FloatBuffer
    let lora0: FloatBuffer
    let loraConfig: LoRAConfig
    let golden: FixtureTensors
    let json: [String: Any]
    let grpo: GRPOConfig
    let lrTheta: Float, lrLora: Float, weightDecay: Float, clip: Float

    init() throws {
        config = try ModelConfig(json: fixtureData(bridgeDir + "/config.json"))
        theta0 = try ParameterLayout(config: config).assemble(FixtureTensors(path: bridgeDir + "/model.safetensors").asTensors())
        let cfg = try fixtureJSON(bridgeDir + "/adapter_config.json")
        loraConfig = LoRAConfig(r: cfg["r"] as! Int, loraAlpha: (cfg["lora_alpha"] as! NSNumber).doubleValue,
                                targetModules: (cfg["target_modules"] as! [String]).map { LoRATarget(rawValue: $0)! })
        lora0 = try LoRALayout(config: config, lora: loraConfig).assemble(FixtureTensors(path: bridgeDir + "/adapter_model.safetensors").asTensors())
        golden = try FixtureTensors(path: bridgeDir + "/golden.safetensors")
        json = try fixtureJSON(bridgeDir + "/golden.json")
        let hyper = json["hyper"] as! [String: Any], adam = hyper["adamw"] as! [String: Any]
        func num(_ d: [String: Any], _ k: String) -> Double { (d[k] as! NSNumber).doubleValue }
        grpo = GRPOConfig(beta: num(hyper, "beta_kl"), epsilon: num(hyper, "epsilon"), lossType: .dapo,
                          temperature: num(hyper, "temperature"), maxCompletionLength: golden.shapes["batch.0.rl.completion_ids"]![1])
        lrTheta = Float(num(adam, "lr_theta")); lrLora = Float(num(adam, "lr_lora")); weightDecay = Float(num(adam, "weight_decay"))
        clip = Float(num(hyper["clip"] as! [String: Any], "max_norm"))
    }

    func model(_ params: FloatBuffer) throws -> Transformer { try Transformer(config: config, params: params.clone()) }
    func adapter(_ params: FloatBuffer) -> LoRAAdapter { LoRAAdapter(config: loraConfig, model: config, params: params.clone()) }
    func optimizer(lr: Float, count: Int) -> AdamW { AdamW(config: AdamWConfig(lr: lr, weightDecay: weightDecay, clip: clip), count: count) }
    func part(_ params: FloatBuffer) throws -> TrainedPart {
        TrainedPart(model: try model(params), optimizer: optimizer(lr: lrTheta, count: params.count))
    }

    /// Rows of a [R, C] golden tensor, each cut to `lengths[r]`.
    func rows(_ name: String, lengths: [Int]) -> [[Float]] {
        let v = golden[name]!, width = golden.shapes[name]![1]
        return lengths.indices.map { r in Array(v[(r * width)..<(r * width + lengths[r])]) }
    }

    func sft(_ k: Int) -> CompletionBatch {
        let tokens = rows("batch.\(k).sft.tokens", lengths: [Int](repeating: golden.shapes["batch.\(k).sft.tokens"]![1], count: golden.shapes["batch.\(k).sft.tokens"]![0]))
        let mask = rows("batch.\(k).sft.target_mask", lengths: tokens.map(\.count))
        var prompts: [[Int32]] = [], targets: [[Int32]] = []
        for (t, m) in zip(tokens, mask) {
            let first = m.firstIndex(of: 1)!, end = m.lastIndex(of: 1)! + 1
            prompts.append(t[..<first].map { Int32($0) })
            targets.append(t[first..<end].map { Int32($0) })
        }
        return CompletionBatch(prompts: prompts, completions: targets)
    }

    func rl(_ k: Int, _ part: String = "rl", ref: String? = nil) -> RLBatch {
        let p = "batch.\(k).\(part)."
        let lengths = rows(p + "completion_mask", lengths: [Int](repeating: grpo.maxCompletionLength, count: golden.shapes[p + "completion_mask"]![0]))
            .map { Int($0.reduce(0, +)) }
        let prompts = rows(p + "prompt_ids", lengths: lengths.map { _ in golden.shapes[p + "prompt_ids"]![1] }).map { $0.map { Int32($0) } }
        let completions = rows(p + "completion_ids", lengths: lengths).map { $0.map { Int32($0) } }
        return RLBatch(batch: CompletionBatch(prompts: prompts, completions: completions), advantages: golden[p + "advantages"]!,
                       refLogps: rows(ref ?? p + "ref_logps", lengths: lengths))
    }

    func expected(_ prefix: String, _ entries: [ParameterLayout.Entry]) -> [Float] {
        entries.flatMap { golden[prefix + $0.name]! }
    }

    func log(_ scenario: String) -> [[String: Any]] {
        ((json["scenarios"] as! [String: Any])[scenario] as! [String: Any])["log"] as! [[String: Any]]
    }

    func lambda(_ scenario: String, _ k: Int) -> Double { (log(scenario)[k]["lambda"] as! NSNumber).doubleValue }
}

/// max |actual − expected| within `rel` of the update norm.
func expectWithinUpdate(_ actual: [Float], _ expected: [Float], updateNorm: Double, rel: Double = 1e-4, _ what: String) {
    expectClose(actual, expected, rtol: 0, atol: rel * updateNorm, what)
}

@Suite struct BridgeReferenceTests {
    @Test(arguments: ["const_shared", "ramp_shared", "const_separate"])
    func threeIterationsMatchTheReference(scenario: String) throws {
        let f = try BridgeFixture()
        let theta = try f.part(f.theta0), shadow = try f.part(f.theta0)
        let w = f.adapter(f.lora0)
        let wOptimizer = f.optimizer(lr: f.lrLora, count: w.params.count)
        let gw = FloatBuffer(count: w.params.count)
        let separate = scenario.hasSuffix("separate")
        for k in 0..<3 {
            let data = LowerStepData(sft: f.sft(k), rl: f.rl(k), shadowRL: separate ? f.rl(k, "rl_shadow") : nil)
            let report = try LowerStep.run(theta: theta, shadow: shadow, shadowIsTheta: k == 0, lora: w, loraGrads: gw,
                                           data: data, lambda: f.lambda(scenario, k), config: f.grpo, chunk: 4, threads: 2)
            wOptimizer.update(params: w.params, grads: gw)
            let log = f.log(scenario)[k]
            func norm(_ key: String) -> Double { (log[key] as! NSNumber).doubleValue }
            #expect(report.passes == 2)
            #expect(report.sharedRLPass == (k == 0 && !separate))
            #expect(abs(report.sftLoss! - norm("loss_sft")) <= 1e-5 * norm("loss_sft"))
            #expect(abs(report.theta!.gradNorm - norm("grad_norm_theta")) <= 1e-4 * norm("grad_norm_theta"))
            #expect(abs(report.thetaHat!.gradNorm - norm("grad_norm_theta_hat")) <= 1e-4 * norm("grad_norm_theta_hat"))
            #expect(abs(report.loraGradNorm! - norm("grad_norm_lora")) <= 1e-4 * norm("grad_norm_lora"))
            let step = "\(scenario).step\(k + 1)."
            let layout = theta.model.layout.entries, loraLayout = w.layout.entries
            expectWithinUpdate(theta.model.params.array, f.expected(step + "theta.", layout), updateNorm: norm("update_norm_theta"), "\(step)theta")
            expectWithinUpdate(shadow.model.params.array, f.expected(step + "theta_hat.", layout), updateNorm: norm("update_norm_theta_hat"), "\(step)theta_hat")
            expectWithinUpdate(w.params.array, f.expected(step + "lora.", loraLayout), updateNorm: norm("update_norm_lora"), "\(step)lora")
        }
        // the optimizer states after 3 steps
        let m = f.expected("\(scenario).step3.adam.lora.exp_avg.", w.layout.entries)
        expectClose(wOptimizer.m.array, m, rtol: 0, atol: 1e-4 * Double(m.map { abs($0) }.max()!), "\(scenario) w exp_avg")
        if scenario == "const_shared" {
            for (name, part) in [("theta", theta), ("theta_hat", shadow)] {
                for (moment, buffer) in [("exp_avg", part.optimizer.m), ("exp_avg_sq", part.optimizer.v)] {
                    let e = f.expected("const_shared.step3.adam.\(name).\(moment).", theta.model.layout.entries)
                    expectClose(buffer.array, e, rtol: 0, atol: 1e-4 * Double(e.map { abs($0) }.max()!), "\(name) \(moment)")
                }
            }
        }
    }

    @Test func stepZeroGradientsMatchTheReference() throws {
        let f = try BridgeFixture()
        let model = try f.model(f.theta0), w = f.adapter(f.lora0)
        for (part, sft) in [("sft", true), ("rl", false)] {
            let g = FloatBuffer(count: model.layout.totalCount), gw = FloatBuffer(count: w.layout.totalCount)
            try PolicyGradient.pass(model: model, lora: w, sft: sft ? f.sft(0) : nil, rl: sft ? nil : f.rl(0), config: f.grpo,
                                    grads: g, loraGrads: gw, chunk: 4, threads: 2)
            for (buffer, layout, name) in [(g, model.layout.entries, "theta"), (gw, w.layout.entries, "lora")] {
                for e in layout {
                    let expected = f.golden["const_shared.step0.grad_\(name)_\(part).\(e.name)"]!
                    expectClose(buffer.array(offset: e.offset, count: e.count), expected, rtol: 1e-4,
                                atol: 1e-4 * Double(expected.map { abs($0) }.max()!), "\(part) \(e.name)")
                }
            }
        }
    }

    @Test func eachBaselineMatchesTheReference() throws {
        let f = try BridgeFixture()
        let base = (f.json["baselines"] as! [String: Any])["log"] as! [String: [String: Any]]
        func update(_ name: String, _ key: String = "update_norm") -> Double { (base[name]![key] as! NSNumber).doubleValue }
        func check(_ part: TrainedPart, _ name: String, _ step: Int, norm: Double) {
            expectWithinUpdate(part.model.params.array, f.expected("baseline.\(name).step\(step).theta.", part.model.layout.entries), updateNorm: norm, name)
        }
        let data = LowerStepData(sft: f.sft(0), rl: f.rl(0))
        for (name, lambda) in [("sft", 0.0), ("rl_zero", 1.0), ("naive_mixing", 0.5)] {
            let p = try f.part(f.theta0)
            let r = try LowerStep.run(theta: p, data: data, lambda: lambda, config: f.grpo, chunk: 4, threads: 2)
            #expect(r.passes == 1)
            check(p, name, 1, norm: update(name))
        }
        // naive alternating: an RL step, then an SFT step, one AdamW
        let alt = try f.part(f.theta0)
        try LowerStep.run(theta: alt, data: LowerStepData(rl: f.rl(0)), lambda: 1, config: f.grpo, chunk: 4, threads: 2)
        try LowerStep.run(theta: alt, data: LowerStepData(sft: f.sft(0)), lambda: 0, config: f.grpo, chunk: 4, threads: 2)
        #expect(alt.optimizer.step == 2)
        check(alt, "naive_alternating", 1, norm: update("naive_alternating"))
        // cold start: the SFT step, then RL-zero from that checkpoint with a fresh AdamW and π_ref = it
        let sft = try f.part(f.theta0)
        try LowerStep.run(theta: sft, data: LowerStepData(sft: f.sft(0)), lambda: 0, config: f.grpo, chunk: 4, threads: 2)
        let cold = try f.part(sft.model.params)
        try LowerStep.run(theta: cold, data: LowerStepData(rl: f.rl(1, ref: "baseline.cold_start.step2.ref_logps")), lambda: 1,
                          config: f.grpo, chunk: 4, threads: 2)
        check(cold, "cold_start", 2, norm: update("cold_start", "update_norm_step2"))
    }
}
