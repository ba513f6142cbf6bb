// The rollout stage on the real stories260K model: responses are grouped, reproducible byte for
// byte, independent of how prompts are batched, their log-probabilities are the full forward
// pass's log-softmax at those positions, and the score stage accepts them.

import Foundation
import Testing
import TestSupport
import Checkpoint
import LanguageModel
import Tensors
@testable import Pipeline
@testable import ShardStore

let storiesFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("CheckpointTests/Fixtures/stories260k").path

@Suite struct RolloutStageTests {
    let scratch = ScratchDirectory("rollout")

    func setUp() throws -> (Store, policy: ObjectID, prompts: ObjectID, tokenizer: ObjectID) {
        let store = try Store.create(at: scratch.file("s"))
        let model = try store.importLlama2c(file: storiesFixtures + "/stories260K.bin", tokenizer: storiesFixtures + "/tok512.bin")
        let tokenizer = try store.put(Array(try Data(contentsOf: URL(fileURLWithPath: storiesFixtures + "/tok512.bin"))), kind: .blob).id
        let runner = try StageRunner(store: store, run: "r")
        let tokenize = TokenizeStage(tokenizer: tokenizer, source: .synthetic(seed: 3, level: 2, count: 6, split: "train"), kind: .rl)
        let prompts = try runner.execute(tokenize).result.id("shard")
        return (store, try #require(model.id), prompts, tokenizer)
    }

    @Test func responsesAreReproducibleGroupedAndIndependentOfTheBatching() throws {
        let (store, policy, prompts, tokenizer) = try setUp()
        func rollout(cursor: Int, batch: Int, in s: Store = store) throws -> Responses {
            let stage = RolloutStage(policy: policy, prompts: prompts, cursor: cursor, batch: batch, groupSize: 3, maxNewTokens: 12, seed: 9)
            return try Responses.load(from: s, id: try stage.run(in: s).id("responses"))
        }
        let all = try rollout(cursor: 4, batch: 4)   // prompts 4, 5, 0, 1 (wraps around the 6-prompt shard)
        #expect(all.count == 12 && all.groupSize == 3)
        #expect(all.promptIndex == [4, 4, 4, 5, 5, 5, 0, 0, 0, 1, 1, 1])
        try all.validate(promptCount: 6)
        // the three responses of a group differ (sampled), the same call writes the same object
        #expect(Set(all.tokens[0..<3]).count > 1)
        let id1 = try RolloutStage(policy: policy, prompts: prompts, cursor: 4, batch: 4, groupSize: 3, maxNewTokens: 12, seed: 9).run(in: store).id("responses")
        let id2 = try RolloutStage(policy: policy, prompts: prompts, cursor: 4, batch: 4, groupSize: 3, maxNewTokens: 12, seed: 9).run(in: store).id("responses")
        #expect(id1 == id2)
        // cut into two rollouts of two prompts: the same responses
        let a = try rollout(cursor: 4, batch: 2), b = try rollout(cursor: 6, batch: 2)
        #expect(a.tokens + b.tokens == all.tokens)
        #expect(a.logprobs! + b.logprobs! == all.logprobs!)
        // another seed samples differently
        let other = try Responses.load(from: store, id: try RolloutStage(policy: policy, prompts: prompts, cursor: 4, batch: 4, groupSize: 3,
                                                                          maxNewTokens: 12, seed: 10).run(in: store).id("responses"))
        #expect(other.tokens != all.tokens)
        // the score stage takes them
        let scored = try ScoreStage(responses: id1, prompts: prompts, tokenizer: tokenizer).run(in: store)
        #expect(scored.metrics["responses"]?.intValue == 12)
    }

    @Test func logprobsAreTheForwardPassLogSoftmax() throws {
        let (store, policy, prompts, _) = try setUp()
        let stage = RolloutStage(policy: policy, prompts: prompts, cursor: 0, batch: 2, groupSize: 2, maxNewTokens: 10, temperature: 0.7, seed: 1)
        let r = try Responses.load(from: store, id: try stage.run(in: store).id("responses"))
        let shard = try TokenShard.load(from: store, id: prompts)
        let model = try store.loadModel(try store.tensorSet(policy)).model
        let V = model.config.vocabSize
        for j in 0..<r.count {
            let prompt = Array(shard.prompt(r.promptIndex[j]))
            let sequence = prompt + r.tokens[j]
            let acts = Activations(config: model.config, batch: 1, time: sequence.count)
            try model.forward(tokens: sequence, acts: acts)
            let logits = acts.logits.array
            #expect(r.logprobs![j].count == r.tokens[j].count)
            for (t, token) in r.tokens[j].enumerated() {
                // the token at position p = prompt.count + t was drawn from the logits at p − 1
                let row = Array(logits[((prompt.count + t - 1) * V)..<((prompt.count + t) * V)]).map { Double($0) / 0.7 }
                let m = row.max()!
                let expected = row[Int(token)] - m - log(row.reduce(0) { $0 + exp($1 - m) })
                #expect(abs(Double(r.logprobs![j][t]) - expected) < 1e-4, "response \(j) token \(t)")
            }
        }
    }
}
