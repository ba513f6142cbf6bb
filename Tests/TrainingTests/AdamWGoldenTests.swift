// AdamW against torch.optim.AdamW: the weights of the golden models after 3 steps with grad-norm
// clipping (fixtures of Tests/LanguageModelTests, written by tools/gen_model_goldens.py).

import Foundation
import Testing
import LanguageModel
import Tensors
import TestSupport
import Training

let modelFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("LanguageModelTests/Fixtures").path

@Suite struct AdamWGoldenTests {
    @Test(arguments: ["qwen2", "llama", "qwen3"], [nil, 1])
    func threeStepsMatchPyTorch(family: String, microBatch: Int?) throws {
        let dir = modelFixtures + "/" + family
        let config = try ModelConfig(json: fixtureData(dir + "/config.json"))
        let layout = ParameterLayout(config: config)
        let weights = try FixtureTensors(path: dir + "/model.safetensors")
        var named: [String: Tensor] = [:]
        for n in weights.names { named[n] = Tensor(f32: weights[n]!, shape: weights.shapes[n]!) }
        let params = try layout.assemble(named)
        let model = try Transformer(config: config, params: params)
        let json = try fixtureJSON(dir + "/golden.json")
        let hyper = json["adamw"] as! [String: Double]
        let tokens = (json["tokens"] as! [Int]).map(Int32.init), targets = (json["targets"] as! [Int]).map(Int32.init)
        let opt = AdamW(config: AdamWConfig(lr: Float(hyper["lr"]!), beta1: Float(hyper["beta1"]!), beta2: Float(hyper["beta2"]!),
                                            eps: Float(hyper["eps"]!), weightDecay: Float(hyper["weight_decay"]!),
                                            clip: Float(hyper["clip"]!)), count: layout.totalCount)
        let acts = Activations(config: config, batch: json["batch"] as! Int, time: json["time"] as! Int, microBatch: microBatch)
        acts.threads = 2
        let grads = FloatBuffer(count: layout.totalCount)
        var losses: [Float] = []
        for _ in 0..<3 {
            grads.zero()
            losses.append(try #require(try model.forward(tokens: tokens, targets: targets, acts: acts)))
            model.backward(acts: acts, grads: grads)
            let info = opt.update(params: params, grads: grads)
            #expect(info.gradNorm > 1)   // the clip is active in this fixture
        }
        let expectedLosses = (json["step_losses"] as! [Double]).map { Float($0) }
        expectClose(losses, expectedLosses, rtol: 1e-4, atol: 0, "losses \(losses) vs \(expectedLosses)")
        // Adam divides by sqrt(v): an entry whose gradient is a near-cancellation (e.g. q_proj rows
        // under Qwen3's q_norm, which removes the radial component) gets a step whose size is set by
        // rounding noise. So every entry must be within 5% of one step (lr) and 99% within 2e-6.
        let golden = try FixtureTensors(path: dir + "/golden.safetensors")
        let lr = Double(hyper["lr"]!)
        var tight = 0, total = 0
        for e in layout.entries {
            let actual = params.array(offset: e.offset, count: e.count), expected = golden["after3." + e.name]!
            expectClose(actual, expected, rtol: 1e-4, atol: 5e-2 * lr, "\(family) \(e.name)")
            for (a, b) in zip(actual, expected) where abs(Double(a - b)) <= 2e-6 + 1e-4 * abs(Double(b)) { tight += 1 }
            total += e.count
        }
        #expect(Double(tight) >= 0.99 * Double(total), "\(family): only \(tight) of \(total) entries within 2e-6")
    }

    @Test func schedulesAndClipping() {
        #expect(LRSchedule.constant.factor(step: 100) == 1)
        #expect(LRSchedule.linear(warmup: 10, total: 110).factor(step: 5) == 0.5)
        #expect(LRSchedule.linear(warmup: 10, total: 110).factor(step: 60) == 0.5)
        #expect(abs(LRSchedule.cosine(warmup: 0, total: 100, minRatio: 0.1).factor(step: 50) - 0.55) < 1e-6)
        // clip 0 disables clipping: same update as no clip
        let g1 = FloatBuffer([3, 4]), g2 = FloatBuffer([0.3, -0.4])
        let p1 = FloatBuffer([1, 1]), p2 = FloatBuffer([1, 1]), p3 = FloatBuffer([1, 1])
        let (o1, o2, o3) = (AdamW(config: AdamWConfig(lr: 0.1, clip: 0), count: 2), AdamW(config: AdamWConfig(lr: 0.1), count: 2),
                            AdamW(config: AdamWConfig(lr: 0.1, clip: 1), count: 2))
        for g in [g1, g2] {
            o1.update(params: p1, grads: g); o2.update(params: p2, grads: g)
            let info = o3.update(params: p3, grads: g)
            #expect(abs(info.gradNorm - AdamW.globalNorm(g)) == 0)
        }
        #expect(p1.array == p2.array)
        #expect(AdamW.globalNorm(g1) == 5)
        // clipping the first (large) gradient to norm 1 changes how the second step is weighed
        #expect(p3.array != p1.array)
    }
}
