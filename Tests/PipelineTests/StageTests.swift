// The tokenize and score stages through the runner: shards round-trip, SFT masks cover exactly
// the target, stages skip when unchanged and rerun on a parameter change, the same inputs write
// the same bytes in any store, and GRPO advantages follow their definition.

import Foundation
import Testing
import Tensors
import TestSupport
import Tokenizers
import Training
@testable import Pipeline
@testable import ShardStore

let tokenizerFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("TokenizersTests/Fixtures")

func fixtureBytes(_ relative: String) throws -> [UInt8] {
    Array(try Data(contentsOf: tokenizerFixtures.appendingPathComponent(relative)))
}

@Suite struct StageTests {
    let scratch = ScratchDirectory("stages")

    func setUp() throws -> (Store, ObjectID, ObjectID) {
        let store = try Store.create(at: scratch.file("s"))
        let tok512 = try store.put(try fixtureBytes("tok512/tok512.bin"), kind: .blob).id
        let qwen = try store.put(try fixtureBytes("qwen2-style/tokenizer.json"), kind: .blob, codec: .auto).id
        return (store, tok512, qwen)
    }

    @Test func sftShardMasksExactlyTheTarget() throws {
        let (store, tok512, _) = try setUp()
        let runner = try StageRunner(store: store, run: "r")
        let stage = TokenizeStage(tokenizer: tok512, source: .synthetic(seed: 7, level: 2, count: 20, split: "train"), kind: .sft)
        let shard = try TokenShard.load(from: store, id: try runner.execute(stage).result.id("shard"))
        let tok = try TokenizerLoader.load(bytes: try fixtureBytes("tok512/tok512.bin"), name: "tok512")
        let records = try SyntheticArithmetic(seed: 7, level: 2).records(count: 20, split: .train)
        #expect(shard.count == 20 && shard.kind == .sft)
        for i in 0..<shard.count {
            #expect(shard.prompt(i).first == Llama2CTokenizer.bosID)
            #expect(shard.target(i).last == Llama2CTokenizer.eosID)
            // SentencePiece-style encoding adds a dummy-prefix space to each separately encoded text.
            #expect(tok.decode(Array(shard.prompt(i).dropFirst()), skipSpecialTokens: true) == " " + records[i].evaluationPrompt + "\n")
            #expect(tok.decode(Array(shard.target(i).dropLast()), skipSpecialTokens: true) == " " + records[i].target!)
            #expect(shard.answers[i] == records[i].answer && shard.recordIDs[i] == records[i].id)
        }
        // The stored mask is 1 exactly on target tokens.
        let set = try store.tensorSet(try runner.execute(stage).result.id("shard"))
        let mask = try store.loadTensor(try #require(set.entry("loss_mask"))).buffer.withUnsafeBytes { Array($0) }
        var expected: [UInt8] = []
        for i in 0..<shard.count { expected += Array(repeating: 0, count: shard.promptLengths[i]) + Array(repeating: 1, count: shard.target(i).count) }
        #expect(mask == expected)
    }

    @Test func chatTemplatedPromptsEndWithTheGenerationPrompt() throws {
        let (store, _, qwen) = try setUp()
        let runner = try StageRunner(store: store, run: "r")
        let stage = TokenizeStage(tokenizer: qwen, source: .synthetic(seed: 1, level: 1, count: 5, split: "test"), kind: .rl, template: "qwen2.5")
        let shard = try TokenShard.load(from: store, id: try runner.execute(stage).result.id("shard"))
        let tok = try TokenizerLoader.load(bytes: try fixtureBytes("qwen2-style/tokenizer.json"), name: "qwen")
        for i in 0..<shard.count {
            let text = tok.decode(Array(shard.prompt(i)), skipSpecialTokens: false)
            #expect(text.hasPrefix("<|im_start|>system\n"))
            #expect(text.hasSuffix("<|im_end|>\n<|im_start|>assistant\n"))
            #expect(shard.target(i).isEmpty)
        }
    }

    @Test func skipsWhenUnchangedRerunsOnChangeAndWritesTheSameBytes() throws {
        let (store, tok512, _) = try setUp()
        let runner = try StageRunner(store: store, run: "r")
        let stage = TokenizeStage(tokenizer: tok512, source: .synthetic(seed: 3, level: 1, count: 10, split: "train"), kind: .sft)
        let first = try runner.execute(stage)
        let objects = try store.allObjectIDs()
        let again = try runner.execute(stage)
        #expect(!first.skipped && again.skipped)
        #expect(try again.result.id("shard") == first.result.id("shard"))
        #expect(try store.allObjectIDs() == objects)
        #expect(try store.readJournal(run: "r").count == 1)

        var changed = stage
        changed.limit = 5
        let rerun = try runner.execute(changed)
        #expect(!rerun.skipped && rerun.key != first.key)
        #expect(try TokenShard.load(from: store, id: try rerun.result.id("shard")).count == 5)

        // A stage whose outputs were garbage-collected runs again and writes the same objects.
        let other = try Store.create(at: scratch.file("other"))
        let otherTok = try other.put(try fixtureBytes("tok512/tok512.bin"), kind: .blob).id
        #expect(otherTok == tok512)
        let elsewhere = try StageRunner(store: other, run: "x").execute(stage)
        #expect(try elsewhere.result.id("shard") == first.result.id("shard"))
    }

    @Test func scoreComputesRewardsAndGroupAdvantages() throws {
        let (store, tok512, _) = try setUp()
        let runner = try StageRunner(store: store, run: "r")
        let prompts = try runner.execute(TokenizeStage(tokenizer: tok512, source: .synthetic(seed: 5, level: 1, count: 2, split: "train"), kind: .rl)).result.id("shard")
        let shard = try TokenShard.load(from: store, id: prompts)
        let tok = try TokenizerLoader.load(bytes: try fixtureBytes("tok512/tok512.bin"), name: "tok512")
        let a0 = shard.answers[0], a1 = shard.answers[1]
        // Group 0: one right of four; group 1: all right (no signal).
        let texts = ["so \\boxed{\(a0)}", "\\boxed{\(a0)1}", "no answer", "\\boxed{-\(a0)9}", "\\boxed{\(a1)}", "it is \(a1)", "\\boxed{\(a1)}", "\\boxed{\(a1)}"]
        let r = Responses(tokens: texts.map { tok.encode($0) }, promptIndex: [0, 0, 0, 0, 1, 1, 1, 1], finished: Array(repeating: true, count: 8), groupSize: 4, prompts: prompts)
        let outcome = try runner.execute(ScoreStage(responses: try r.store(in: store), prompts: prompts, tokenizer: tok512))
        let scores = try ScoreStage.loadScores(from: store, id: try outcome.result.id("scores"))
        #expect(scores.correct == [true, false, false, false, true, true, true, true])
        #expect(scores.rewards == [1, 0, 0, 0, 1, 1, 1, 1])
        // Rewards (1,0,0,0): mean 1/4, sample std 1/2, so A = (3/2, −1/2, −1/2, −1/2) / (1 + 2e-6).
        let expected = [1.5, -0.5, -0.5, -0.5].map { Float($0 / (1 + 2e-6)) }
        #expect(zip(scores.advantages.prefix(4), expected).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(scores.advantages.suffix(4) == [0, 0, 0, 0])
        #expect(outcome.result.metrics["accuracy"] == .double(5.0 / 8))
        #expect(outcome.result.metrics["groups_mixed"] == 1 && outcome.result.metrics["groups_all_correct"] == 1)

        // Responses that do not form whole groups of one prompt are refused.
        let bad = Responses(tokens: texts.map { tok.encode($0) }, promptIndex: [0, 0, 0, 1, 1, 1, 1, 1], finished: Array(repeating: true, count: 8), groupSize: 4, prompts: prompts)
        #expect(throws: PipelineError.self) { try runner.execute(ScoreStage(responses: try bad.store(in: store), prompts: prompts, tokenizer: tok512)) }
    }

    /// With reward noise p, response j's verdict flips exactly when the j-th draw of the noise
    /// stream is below p: the same seed flips the same responses, another seed others, and about
    /// p of a large batch flips.
    @Test func rewardNoiseFlipsTheResponsesItsStreamNames() throws {
        let (store, tok512, _) = try setUp()
        let runner = try StageRunner(store: store, run: "r")
        let prompts = try runner.execute(TokenizeStage(tokenizer: tok512, source: .synthetic(seed: 5, level: 1, count: 100, split: "train"), kind: .rl)).result.id("shard")
        let shard = try TokenShard.load(from: store, id: prompts)
        let tok = try TokenizerLoader.load(bytes: try fixtureBytes("tok512/tok512.bin"), name: "tok512")
        // 4 responses per prompt: right, wrong, right, wrong
        let texts = (0..<400).map { j in j % 2 == 0 ? "\\boxed{\(shard.answers[j / 4])}" : "no answer" }
        let r = Responses(tokens: texts.map { tok.encode($0) }, promptIndex: (0..<400).map { $0 / 4 }, finished: Array(repeating: true, count: 400), groupSize: 4, prompts: prompts)
        let responses = try r.store(in: store)
        func scored(_ p: Double, _ seed: UInt64) throws -> (ScoreStage.Scores, StageResult) {
            var s = ScoreStage(responses: responses, prompts: prompts, tokenizer: tok512)
            s.rewardNoise = p
            s.noiseSeed = seed
            let result = try runner.execute(s).result
            return (try ScoreStage.loadScores(from: store, id: try result.id("scores")), result)
        }
        let (clean, _) = try scored(0, 0)
        #expect(clean.rewards == (0..<400).map { $0 % 2 == 0 ? 1 : 0 })
        let (noisy, result) = try scored(0.2, 77)
        var flips = 0
        for j in 0..<400 {
            var rng = Philox(seed: 77, stream: UInt64(j))
            let flip = Double(rng.uniform()) < 0.2
            if flip { flips += 1 }
            #expect(noisy.rewards[j] == (flip ? 1 - clean.rewards[j] : clean.rewards[j]), "response \(j)")
        }
        #expect(noisy.correct == clean.correct, "the grader's verdicts are reported as they are")
        #expect(flips > 40 && flips < 120)
        #expect(result.metrics["rewards_flipped"] == .double(Double(flips) / 400))
        #expect(try scored(0.2, 77).0.rewards == noisy.rewards)
        #expect(try scored(0.2, 78).0.rewards != noisy.rewards)
    }

    @Test func plusMinusOneRewardsGiveTheSameAdvantages() {
        let g = GroupAdvantages()
        let zeroOne = g.compute(rewards: [1, 0, 1, 1, 0, 0], groupSize: 3)
        let plusMinus = g.compute(rewards: [1, -1, 1, 1, -1, -1], groupSize: 3)
        #expect(zip(zeroOne, plusMinus).allSatisfy { abs($0 - $1) < 1e-5 })
        #expect(g.compute(rewards: [0.5, 0.5], groupSize: 2) == [0, 0])
        #expect(g.compute(rewards: [1], groupSize: 1) == [0])
    }
}
