// The whole model against PyTorch + transformers goldens: logits, loss and every parameter
// gradient for tiny random Qwen2, Llama (llama3 rope scaling) and Qwen3 models, with the batch in
// one piece and cut into micro-batches of one sequence (on two workers).

import Testing
import LanguageModel
import Tensors
import TestSupport

@Suite struct GoldenTests {
    @Test(arguments: ["qwen2", "llama", "qwen3"], [nil, 1])
    func logitsLossAndEveryGradient(family: String, microBatch: Int?) throws {
        let f = try GoldenFixture(family)
        let acts = Activations(config: f.config, batch: f.batch, time: f.time, microBatch: microBatch)
        acts.threads = 2
        let loss = try #require(try f.model.forward(tokens: f.tokens, targets: f.targets, acts: acts))
        expectClose(acts.logits.array, f.golden["logits"]!, rtol: 1e-4, atol: 1e-5, "\(family) logits")
        #expect(abs(loss - f.loss) <= 1e-4 * abs(f.loss), "\(family) loss \(loss) vs \(f.loss)")

        let grads = FloatBuffer(count: f.model.layout.totalCount)
        f.model.backward(acts: acts, grads: grads)
        var checked = 0
        for e in f.model.layout.entries {
            let expected = try #require(f.golden["grad." + e.name], "no golden gradient for \(e.name)")
            expectClose(grads.array(offset: e.offset, count: e.count), expected, rtol: 1e-4, atol: 1e-7, "\(family) grad \(e.name)")
            checked += 1
        }
        #expect(checked == f.golden.names.filter { $0.hasPrefix("grad.") }.count)
    }

    @Test(arguments: ["qwen2", "llama", "qwen3"])
    func greedyGenerateMatchesTransformers(family: String) throws {
        let f = try GoldenFixture(family)
        let gen = f.json["generate"] as! [String: Any]
        let prompt = (gen["prompt"] as! [Int]).map(Int32.init)
        let expected = (gen["ids"] as! [Int]).map(Int32.init)
        let result = try f.model.generate(prompts: [prompt], maxNewTokens: 12, sampling: .greedy,
                                          stopTokens: Set(f.config.eosTokenIds.map(Int32.init)))
        #expect(result.ids[0] == expected)
    }
}
