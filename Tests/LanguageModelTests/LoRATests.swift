// LoRA: B = 0 leaves the logits bit for bit; A/B gradients match PEFT; θ and w gradients come from
// the same backward pass; merging folds the adapter into the weights.

import Testing
import LanguageModel
import Tensors
import TestSupport

@Suite struct LoRATests {
    let all: [LoRATarget] = [.q, .k, .v, .o, .gate, .up, .down]

    @Test func zeroBLeavesLogitsBitForBit() throws {
        let f = try GoldenFixture("qwen3")
        let adapter = LoRAAdapter(config: LoRAConfig(r: 3, loraAlpha: 6, targetModules: all), model: f.config, seed: 5)
        let base = Activations(config: f.config, batch: f.batch, time: f.time)
        let withLoRA = Activations(config: f.config, batch: f.batch, time: f.time, lora: adapter.config)
        try f.model.forward(tokens: f.tokens, acts: base)
        try f.model.forward(tokens: f.tokens, acts: withLoRA, lora: adapter)
        #expect(base.logits.array == withLoRA.logits.array)
        #expect(adapter.params.array.contains { $0 != 0 })   // A is random
    }

    @Test(arguments: [nil, 1])
    func gradientsOfAAndBMatchPEFT(microBatch: Int?) throws {
        let f = try GoldenFixture("qwen2")
        let dir = fixturesDirectory + "/lora"
        let cfg = try fixtureJSON(dir + "/adapter_config.json")
        let targets = (cfg["target_modules"] as! [String]).map { LoRATarget(rawValue: $0)! }
        let lora = LoRAConfig(r: cfg["r"] as! Int, loraAlpha: Double(cfg["lora_alpha"] as! Int), targetModules: targets)
        let layout = LoRALayout(config: f.config, lora: lora)
        let adapter = LoRAAdapter(config: lora, model: f.config,
                                  params: try layout.assemble(FixtureTensors(path: dir + "/adapter_model.safetensors").asTensors()))
        let golden = try FixtureTensors(path: dir + "/golden.safetensors")
        let acts = Activations(config: f.config, batch: f.batch, time: f.time, lora: lora, microBatch: microBatch)
        acts.threads = 2
        let loss = try #require(try f.model.forward(tokens: f.tokens, targets: f.targets, acts: acts, lora: adapter))
        let expectedLoss = Float(try fixtureJSON(dir + "/golden.json")["loss"] as! Double)
        #expect(abs(loss - expectedLoss) <= 1e-4 * expectedLoss)
        expectClose(acts.logits.array, golden["logits"]!, rtol: 1e-4, atol: 1e-5)
        let grads = FloatBuffer(count: layout.totalCount)
        f.model.backward(acts: acts, grads: nil, lora: adapter, loraGrads: grads)
        for e in layout.entries {
            expectClose(grads.array(offset: e.offset, count: e.count), golden["grad." + e.name]!, rtol: 1e-4, "\(e.name)")
        }
    }

    @Test func thetaGradientsUnderLoRAEqualThoseOfTheMergedModel() throws {
        let f = try GoldenFixture("llama")
        let lora = LoRAConfig(r: 2, loraAlpha: 4, targetModules: [.v, .q, .down, .up])
        let adapter = LoRAAdapter(config: lora, model: f.config, seed: 9)
        var rng = Philox(seed: 3)
        for i in 0..<adapter.params.count where adapter.params[i] == 0 { adapter.params[i] = rng.normal() * 0.1 }   // B ≠ 0

        let acts = Activations(config: f.config, batch: f.batch, time: f.time, lora: lora)
        let loss = try #require(try f.model.forward(tokens: f.tokens, targets: f.targets, acts: acts, lora: adapter))
        let logits = acts.logits.array
        let theta = FloatBuffer(count: f.model.layout.totalCount), w = FloatBuffer(count: adapter.layout.totalCount)
        f.model.backward(acts: acts, grads: theta, lora: adapter, loraGrads: w)

        let merged = try f.model.with(params: f.model.merged(adapter))
        let plain = Activations(config: f.config, batch: f.batch, time: f.time)
        let mergedLoss = try #require(try merged.forward(tokens: f.tokens, targets: f.targets, acts: plain))
        expectClose(plain.logits.array, logits, rtol: 1e-4, atol: 1e-5)
        #expect(abs(mergedLoss - loss) <= 1e-5 * loss)
        let mergedGrads = FloatBuffer(count: f.model.layout.totalCount)
        merged.backward(acts: plain, grads: mergedGrads)
        expectClose(theta.array, mergedGrads.array, rtol: 1e-4)
        #expect(w.array.contains { $0 != 0 })
    }

    /// Logits for the rows with a target only (the training passes' setting): the same losses and
    /// θ and w gradients as logits for every row, with prompt-like rows without targets, a whole
    /// micro-batch without any, and a temperature scale per row.
    @Test(arguments: ["qwen2", "llama", "qwen3"])
    func logitsOnlyForTargetRowsChangeNothingButRounding(family: String) throws {
        let f = try GoldenFixture(family)
        let lora = LoRAConfig(r: 2, loraAlpha: 4, targetModules: [.q, .v, .gate, .down])
        let adapter = LoRAAdapter(config: lora, model: f.config, seed: 5)
        var rng = Philox(seed: 6)
        for i in 0..<adapter.params.count where adapter.params[i] == 0 { adapter.params[i] = rng.normal() * 0.1 }
        var targets = f.targets
        for b in 0..<f.batch {
            for t in 0..<(f.time / 3) { targets[b * f.time + t] = -100 }          // a prompt
            if b == 1 { for t in 0..<f.time { targets[b * f.time + t] = -100 } }  // nothing to learn
        }
        let scales = (0..<targets.count).map { 1 / (1 + Float($0 % 3) * 0.25) }
        func run(_ compact: Bool) throws -> (losses: [Float], theta: [Float], w: [Float]) {
            let acts = Activations(config: f.config, batch: f.batch, time: f.time, lora: lora, microBatch: 1)
            acts.logitsForTargetsOnly = compact
            _ = try f.model.forward(tokens: f.tokens, targets: targets, acts: acts, lora: adapter, inverseTemperatures: scales)
            let theta = FloatBuffer(count: f.model.layout.totalCount), w = FloatBuffer(count: adapter.layout.totalCount)
            f.model.backward(acts: acts, grads: theta, lora: adapter, loraGrads: w)
            return (acts.losses.array, theta.array, w.array)
        }
        let all = try run(false), compact = try run(true)
        expectClose(compact.losses, all.losses, rtol: 1e-5, "\(family) losses")
        #expect(zip(compact.losses, targets).allSatisfy { $1 >= 0 || $0 == 0 }, "rows without a target have no loss")
        expectClose(compact.theta, all.theta, rtol: 1e-5, "\(family) θ gradient")
        expectClose(compact.w, all.w, rtol: 1e-5, "\(family) w gradient")
    }

    @Test func wGradientsMatchFiniteDifferences() throws {
        let f = try GoldenFixture("qwen3")
        let lora = LoRAConfig(r: 2, loraAlpha: 2, targetModules: [.k, .o, .gate])
        let adapter = LoRAAdapter(config: lora, model: f.config, seed: 1)
        var rng = Philox(seed: 4)
        for i in 0..<adapter.params.count { adapter.params[i] = rng.normal() * 0.2 }
        let acts = Activations(config: f.config, batch: f.batch, time: f.time, lora: lora)
        func loss() -> Double { Double(try! f.model.forward(tokens: f.tokens, targets: f.targets, acts: acts, lora: adapter)!) }
        _ = loss()
        let w = FloatBuffer(count: adapter.layout.totalCount)
        f.model.backward(acts: acts, grads: nil, lora: adapter, loraGrads: w)
        // spot-check a spread of entries by central differences
        for i in stride(from: 0, to: w.count, by: max(1, w.count / 23)) {
            let saved = adapter.params[i]
            adapter.params[i] = saved + 1e-2; let plus = loss()
            adapter.params[i] = saved - 1e-2; let minus = loss()
            adapter.params[i] = saved
            let numeric = (plus - minus) / 2e-2
            #expect(abs(numeric - Double(w[i])) <= 2e-3 + 2e-2 * abs(numeric), "w[\(i)]: analytic \(w[i]) numeric \(numeric)")
        }
    }
}
