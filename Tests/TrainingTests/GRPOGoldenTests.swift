// The GRPO loss and its gradients against TRL's own GRPOTrainer._compute_loss (trl 1.16, on a
// PEFT-wrapped tiny Qwen2; tools/gen_grpo_goldens.py): every loss_type, β = 0 and β > 0, T = 0.7,
// and with old log-probs that clip on both sides. Gradients of θ and of the adapter come from one
// backward pass; each tensor is compared at rel 1e-4 of its own scale. Advantages against TRL's
// lines for scale_rewards group | batch | none.

import Foundation
import Testing
import LanguageModel
import Tensors
import TestSupport
import Training

private let grpoDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/grpo").path

struct GRPOFixture {
    let config: ModelConfig
    let model: Transformer
    let adapter: LoRAAdapter
    let golden: FixtureTensors
    let json: [String: Any]
    let batch: CompletionBatch
    let advantages: [Float]
    let temperature: Double
    let maxCompletionLength: Int

    init() throws {
        config = try ModelConfig(json: fixtureData(grpoDir + "/config.json"))
        let layout = ParameterLayout(config: config)
        model = try Transformer(config: config, params: layout.assemble(FixtureTensors(path: grpoDir + "/model.safetensors").asTensors()))
        let cfg = try fixtureJSON(grpoDir + "/adapter_config.json")
        let lora = LoRAConfig(r: cfg["r"] as! Int, loraAlpha: (cfg["lora_alpha"] as! NSNumber).doubleValue,
                              targetModules: (cfg["target_modules"] as! [String]).map { LoRATarget(rawValue: $0)! })
        adapter = LoRAAdapter(config: lora, model: config,
                              params: try LoRALayout(config: config, lora: lora).assemble(FixtureTensors(path: grpoDir + "/adapter_model.safetensors").asTensors()))
        golden = try FixtureTensors(path: grpoDir + "/golden.safetensors")
        json = try fixtureJSON(grpoDir + "/golden.json")
        let b = json["batch"] as! [String: Any]
        let lengths = b["completion_lengths"] as! [Int]
        let prompts = (b["prompt_ids"] as! [[Int]]).map { $0.map(Int32.init) }
        let completions = zip(b["completion_ids"] as! [[Int]], lengths).map { ids, n in ids.prefix(n).map(Int32.init) }
        batch = CompletionBatch(prompts: prompts, completions: completions)
        advantages = golden["advantages"]!
        temperature = (json["temperature"] as! NSNumber).doubleValue
        maxCompletionLength = b["completion_length"] as! Int
    }

    /// A [S, C] golden tensor cut to each completion's length.
    func perToken(_ name: String) -> [[Float]] {
        let values = golden[name]!, width = golden.shapes[name]![1]
        return batch.completions.indices.map { i in Array(values[(i * width)..<(i * width + batch.completions[i].count)]) }
    }
}

extension FixtureTensors {
    func asTensors() -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: names.map { ($0, Tensor(f32: values[$0]!, shape: shapes[$0]!)) })
    }
}

@Suite struct GRPOGoldenTests {
    @Test func logProbsAtTheTemperatureMatchTRL() throws {
        let f = try GRPOFixture()
        let logps = try PolicyGradient.logProbs(model: f.model, lora: f.adapter, batch: f.batch, temperature: f.temperature)
        expectClose(logps.flatMap { $0 }, f.perToken("per_token_logps").flatMap { $0 }, rtol: 1e-5, atol: 1e-6)
    }

    @Test(arguments: [
        "grpo_beta0", "grpo_beta0.04", "bnpo_beta0", "bnpo_beta0.04", "dapo_beta0", "dapo_beta0.04", "dr_grpo_beta0", "dr_grpo_beta0.04",
        "grpo_beta0.04_clip", "bnpo_beta0.04_clip", "dapo_beta0.04_clip", "dr_grpo_beta0.04_clip",
    ])
    func lossAndGradientsMatchTRL(name: String) throws {
        let f = try GRPOFixture()
        let cases = f.json["cases"] as! [[String: Any]]
        let c = try #require(cases.first { $0["name"] as? String == name })
        let settings = c["settings"] as! [String: Any]
        #expect(settings["use_bias_correction_kl"] as? Bool == false)
        let config = GRPOConfig(beta: (c["beta"] as! NSNumber).doubleValue, epsilon: (settings["epsilon"] as! NSNumber).doubleValue,
                                lossType: GRPOLossType(rawValue: c["loss_type"] as! String)!, temperature: f.temperature,
                                maxCompletionLength: f.maxCompletionLength)
        let clipped = (c["num_iterations"] as! Int) > 1
        let grads = FloatBuffer(count: f.model.layout.totalCount), loraGrads = FloatBuffer(count: f.adapter.layout.totalCount)
        // chunks of 4 sequences: the normalisation is the whole batch's
        let terms = try PolicyGradient.accumulate(
            model: f.model, lora: f.adapter, batch: f.batch, advantages: f.advantages,
            oldLogps: clipped ? f.perToken("old_per_token_logps") : nil,
            refLogps: config.beta > 0 ? f.perToken("ref_per_token_logps") : nil,
            config: config, grads: grads, loraGrads: loraGrads, chunk: 4, threads: 2)
        let loss = (c["loss"] as! NSNumber).doubleValue
        #expect(abs(terms.loss - loss) <= 1e-4 * max(abs(loss), 1e-2), "\(name): loss \(terms.loss) vs TRL \(loss)")
        if clipped {
            #expect(abs(terms.clipLow - (c["clip_ratio_low_mean"] as! NSNumber).doubleValue) < 1e-6, "\(name) low clip fraction")
            #expect(abs(terms.clipHigh - (c["clip_ratio_high_mean"] as! NSNumber).doubleValue) < 1e-6, "\(name) high clip fraction")
            #expect(terms.clipLow > 0 && terms.clipHigh > 0)
        }
        if let kl = c["kl_mean"] as? NSNumber { #expect(abs(terms.meanKL - kl.doubleValue) <= 1e-4 * kl.doubleValue, "\(name) KL") }
        for e in f.model.layout.entries {
            expectClose(grads.array(offset: e.offset, count: e.count), f.golden["case.\(name).grad.\(e.name)"]!, rtol: 1e-4, atol: 1e-9, "\(name) \(e.name)")
        }
        for e in f.adapter.layout.entries {
            expectClose(loraGrads.array(offset: e.offset, count: e.count), f.golden["case.\(name).grad.\(e.name)"]!, rtol: 1e-4, atol: 1e-9, "\(name) \(e.name)")
        }
        #expect(loraGrads.array.contains { $0 != 0 })
    }

    @Test func gradientsAreTheSameBitsForAnyThreadCountAndChunk() throws {
        let f = try GRPOFixture()
        let config = GRPOConfig(beta: 0.04, lossType: .grpo, temperature: f.temperature, maxCompletionLength: f.maxCompletionLength)
        func run(threads: Int, chunk: Int) throws -> [Float] {
            let g = FloatBuffer(count: f.model.layout.totalCount)
            try PolicyGradient.accumulate(model: f.model, lora: f.adapter, batch: f.batch, advantages: f.advantages,
                                          refLogps: f.perToken("ref_per_token_logps"), config: config, grads: g, chunk: chunk, threads: threads)
            return g.array
        }
        let one = try run(threads: 1, chunk: 6)
        #expect(try run(threads: 2, chunk: 6) == one)
        expectClose(try run(threads: 2, chunk: 2), one, rtol: 1e-5)   // another chunking sums in another order
    }

    @Test(arguments: ["group", "batch", "none"])
    func advantagesMatchTRL(scale: String) throws {
        let f = try GRPOFixture()
        let adv = f.json["advantages"] as! [String: Any]
        let rewards = (adv["rewards"] as! [NSNumber]).map(\.doubleValue)
        let ours = GroupAdvantages(epsilon: (adv["std_epsilon"] as! NSNumber).doubleValue, scale: ScaleRewards(rawValue: scale)!)
            .compute(rewards: rewards, groupSize: adv["num_generations"] as! Int)
        expectClose(ours, f.golden["adv.\(scale)"]!, rtol: 1e-6, atol: 1e-7, "scale_rewards \(scale)")
    }
}
