// Batch-split data parallelism changes speed, never bits: the loss, the logits, every θ (and LoRA
// w) gradient and the weights after an AdamW step with clipping are identical with 1, 2 and 3
// threads, for micro-batches of one sequence and for the batch in one piece. (That they match
// PyTorch under micro-batching is GoldenTests / AdamWGoldenTests.)

import Foundation
import Testing
import LanguageModel
import Tensors
import TestSupport
import Training

@Suite struct DataParallelTests {
    struct Step: Equatable {
        var loss: Float
        var logits: [Float]
        var grads: [Float]
        var loraGrads: [Float]
        var params: [Float]
    }

    /// One forward + backward + AdamW step of a golden model (fresh weights each call).
    func step(_ family: String, threads: Int, microBatch: Int?, lora: LoRAConfig? = nil) throws -> Step {
        let dir = modelFixtures + "/" + family
        let config = try ModelConfig(json: fixtureData(dir + "/config.json"))
        let layout = ParameterLayout(config: config)
        let weights = try FixtureTensors(path: dir + "/model.safetensors")
        var named: [String: Tensor] = [:]
        for n in weights.names { named[n] = Tensor(f32: weights[n]!, shape: weights.shapes[n]!) }
        let model = try Transformer(config: config, params: layout.assemble(named))
        let json = try fixtureJSON(dir + "/golden.json")
        let B = json["batch"] as! Int, T = json["time"] as! Int
        // two more sequences (the fixture's, shifted) so there are several micro-batches per worker
        var tokens = (json["tokens"] as! [Int]).map(Int32.init), targets = (json["targets"] as! [Int]).map(Int32.init)
        tokens += tokens.map { ($0 + 5) % Int32(config.vocabSize) }
        targets += targets.map { $0 < 0 ? $0 : ($0 + 5) % Int32(config.vocabSize) }
        targets[T + 2] = -100   // a row without loss: the mean is over the whole batch's targets
        let adapter = lora.map { LoRAAdapter(config: $0, model: config, seed: 4) }
        if let adapter {   // B ≠ 0, so θ gradients see the adapter
            var rng = Philox(seed: 8)
            for i in 0..<adapter.params.count where adapter.params[i] == 0 { adapter.params[i] = rng.normal() * 0.1 }
        }
        let acts = Activations(config: config, batch: 2 * B, time: T, lora: lora, microBatch: microBatch)
        acts.threads = threads
        let loss = try #require(try model.forward(tokens: tokens, targets: targets, acts: acts, lora: adapter))
        let logits = acts.logits.array
        let grads = FloatBuffer(count: layout.totalCount)
        let loraGrads = adapter.map { FloatBuffer(count: $0.layout.totalCount) }
        model.backward(acts: acts, grads: grads, lora: adapter, loraGrads: loraGrads)
        let g = grads.array
        let opt = AdamW(config: AdamWConfig(lr: 1e-2, weightDecay: 0.1, clip: 0.5), count: layout.totalCount)
        KernelThreads.limit(to: threads) { _ = opt.update(params: model.params, grads: grads) }
        return Step(loss: loss, logits: logits, grads: g, loraGrads: loraGrads?.array ?? [], params: model.params.array)
    }

    @Test(arguments: ["qwen2", "llama", "qwen3"], [nil, 1])
    func trainingStepIsBitIdenticalForAnyThreadCount(family: String, microBatch: Int?) throws {
        let one = try step(family, threads: 1, microBatch: microBatch)
        for threads in [2, 3] {
            let other = try step(family, threads: threads, microBatch: microBatch)
            #expect(other.loss == one.loss, "\(family) loss with \(threads) threads")
            #expect(other.logits == one.logits, "\(family) logits with \(threads) threads")
            #expect(other.grads == one.grads, "\(family) gradients with \(threads) threads")
            #expect(other.params == one.params, "\(family) weights after AdamW with \(threads) threads")
        }
        #expect(one.grads.contains { $0 != 0 })
    }

    @Test func loraGradientsAreBitIdenticalForAnyThreadCount() throws {
        let lora = LoRAConfig(r: 2, loraAlpha: 4, targetModules: [.q, .v, .o, .gate, .down])
        let one = try step("qwen3", threads: 1, microBatch: 1, lora: lora)
        let two = try step("qwen3", threads: 2, microBatch: 1, lora: lora)
        #expect(two == one)
        #expect(one.loraGrads.contains { $0 != 0 })
    }

    @Test func microBatchesAgreeWithTheWholeBatch() throws {
        // different cuts sum the gradients in different orders: equal up to rounding
        let whole = try step("llama", threads: 2, microBatch: nil), split = try step("llama", threads: 2, microBatch: 1)
        #expect(abs(whole.loss - split.loss) <= 1e-6 * abs(whole.loss))
        expectClose(split.logits, whole.logits, rtol: 1e-5, atol: 1e-6)
        expectClose(split.grads, whole.grads, rtol: 1e-5)
    }
}
