// A stage's key changes when, and only when, one of its inputs or parameters changes: for every
// stage, each field is changed in turn (table-driven) and the key must move; changing what does
// not affect the output (the generation batch, which decodes the same tokens) must not.

import Foundation
import Testing
import TestSupport
import LanguageModel
import Training
@testable import Pipeline
@testable import ShardStore

private func key<S: Stage>(_ s: S) -> ObjectID { StageRecord.key(stage: S.name, version: S.version, params: s.params, inputs: s.inputs) }
private func id(_ n: UInt8) -> ObjectID { ObjectID(hex: String(repeating: String(format: "%02x", n), count: 16))! }

/// Every variant must have a key of its own and differ from the base; `same` variants must not.
private func check<S: Stage>(_ base: S, changes: [(String, (inout S) -> Void)], same: [(String, (inout S) -> Void)] = []) {
    let k0 = key(base)
    #expect(key(base) == k0, "\(S.name): the key is not a function of the stage")
    var seen: [ObjectID: String] = [k0: "base"]
    for (what, change) in changes {
        var s = base
        change(&s)
        let k = key(s)
        #expect(seen[k] == nil, "\(S.name): changing \(what) gives the key of \(seen[k] ?? "")")
        seen[k] = what
    }
    for (what, change) in same {
        var s = base
        change(&s)
        #expect(key(s) == k0, "\(S.name): \(what) changed the key")
    }
}

@Suite struct StageKeyTests {
    @Test func everyStageKeysOnEveryInputAndParameter() {
        check(TokenizeStage(tokenizer: id(1), source: .synthetic(seed: 1, level: 1, count: 8, split: "train"), kind: .sft), changes: [
            ("tokenizer", { $0.tokenizer = id(2) }), ("source", { $0.source = .synthetic(seed: 2, level: 1, count: 8, split: "train") }),
            ("source file", { $0.source = .blob(id(3), format: nil) }), ("kind", { $0.kind = .rl }), ("template", { $0.template = "qwen2.5" }),
            ("system prompt", { $0.systemPrompt = "be brief" }), ("prompt style", { $0.promptStyle = "plain" }), ("limit", { $0.limit = 4 }),
            ("max prompt tokens", { $0.maxPromptTokens = 9 }), ("max tokens", { $0.maxTokens = 9 }),
        ])
        check(RolloutStage(policy: id(1), prompts: id(2), cursor: 0, batch: 2, groupSize: 2, maxNewTokens: 8), changes: [
            ("policy", { $0.policy = id(3) }), ("adapter", { $0.adapter = id(4) }), ("prompts", { $0.prompts = id(5) }), ("cursor", { $0.cursor = 2 }),
            ("batch", { $0.batch = 3 }), ("group size", { $0.groupSize = 3 }), ("max new tokens", { $0.maxNewTokens = 9 }),
            ("temperature", { $0.temperature = 0.7 }), ("top-p", { $0.topP = 0.9 }), ("seed", { $0.seed = 1 }),
            ("purpose", { $0.purpose = "shadow-rollout" }), ("order", { $0.order = .shuffled }),
        ], same: [("generation batch", { $0.generationBatch = 3 })])
        check(ScoreStage(responses: id(1), prompts: id(2), tokenizer: id(3)), changes: [
            ("responses", { $0.responses = id(4) }), ("prompts", { $0.prompts = id(5) }), ("tokenizer", { $0.tokenizer = id(6) }),
            ("reward", { $0.reward.correctReward = 2 }), ("format reward", { $0.reward.formatReward = 0.1 }),
            ("advantage epsilon", { $0.advantageEpsilon = 1e-4 }), ("scale rewards", { $0.scaleRewards = .batch }),
        ])
        check(LoRAInitStage(base: id(1), config: LoRAConfig(r: 4, loraAlpha: 8, targetModules: [.q]), seed: 0), changes: [
            ("base", { $0.base = id(2) }), ("r", { $0.config.r = 8 }), ("alpha", { $0.config.loraAlpha = 16 }),
            ("targets", { $0.config.targetModules = [.q, .v] }), ("seed", { $0.seed = 1 }),
        ])
        check(RefLogprobsStage(reference: id(1), responses: id(2), prompts: id(3), temperature: 1), changes: [
            ("reference", { $0.reference = id(4) }), ("responses", { $0.responses = id(5) }), ("prompts", { $0.prompts = id(6) }),
            ("temperature", { $0.temperature = 0.7 }), ("chunk", { $0.chunk = 4 }),
        ])
        let grpo = GRPOConfig(beta: 0.001, maxCompletionLength: 8)
        check(LowerStepStage(theta: id(1), thetaHat: id(1), lora: id(2), sft: id(3), sftCursor: 0, sftBatch: 4, prompts: id(4),
                             rl: .init(responses: id(5), scores: id(6), refLogprobs: id(7)), lambda: 0.5, grpo: grpo, optimizer: AdamWConfig(lr: 1e-3)), changes: [
            ("theta", { $0.theta = id(8) }), ("theta optimizer", { $0.thetaOptimizer = id(9) }), ("theta hat", { $0.thetaHat = id(10) }),
            ("theta hat optimizer", { $0.thetaHatOptimizer = id(11) }), ("lora", { $0.lora = id(12) }), ("sft", { $0.sft = id(13) }),
            ("sft cursor", { $0.sftCursor = 4 }), ("sft batch", { $0.sftBatch = 8 }), ("seed", { $0.seed = 1 }), ("prompts", { $0.prompts = id(14) }),
            ("responses", { $0.rl!.responses = id(15) }), ("scores", { $0.rl!.scores = id(16) }), ("ref log-probs", { $0.rl!.refLogprobs = id(17) }),
            ("shadow rollouts", { $0.shadowRL = .init(responses: id(18), scores: id(19)) }), ("lambda", { $0.lambda = 0.6 }),
            ("beta", { $0.grpo.beta = 0.01 }), ("epsilon", { $0.grpo.epsilon = 0.3 }), ("epsilon high", { $0.grpo.epsilonHigh = 0.28 }),
            ("loss type", { $0.grpo.lossType = .grpo }), ("temperature", { $0.grpo.temperature = 0.7 }),
            ("max completion length", { $0.grpo.maxCompletionLength = 16 }), ("learning rate", { $0.optimizer.lr = 2e-3 }),
            ("weight decay", { $0.optimizer.weightDecay = 0 }), ("max grad norm", { $0.optimizer.clip = 0.5 }), ("chunk", { $0.chunk = 4 }),
            ("num iterations", { $0.numIterations = 2 }),
        ])
        check(UpperStepStage(lora: id(1), loraGrads: id(2), optimizer: AdamWConfig(lr: 1e-2)), changes: [
            ("lora", { $0.lora = id(3) }), ("lora optimizer", { $0.loraOptimizer = id(4) }), ("gradients", { $0.loraGrads = id(5) }),
            ("learning rate", { $0.optimizer.lr = 1e-3 }), ("betas", { $0.optimizer.beta2 = 0.99 }), ("eps", { $0.optimizer.eps = 1e-6 }),
        ])
        check(EvalStage(policy: id(1), prompts: id(2), tokenizer: id(3), maxNewTokens: 8), changes: [
            ("policy", { $0.policy = id(4) }), ("adapter", { $0.adapter = id(5) }), ("prompts", { $0.prompts = id(6) }),
            ("tokenizer", { $0.tokenizer = id(7) }), ("max new tokens", { $0.maxNewTokens = 9 }), ("limit", { $0.limit = 2 }),
            ("sampling", { $0.temperature = 1; $0.samples = 4 }),
        ], same: [("generation batch", { $0.generationBatch = 1 })])
        check(TrainSFTStage(model: id(1), data: id(2), config: SFTConfig(steps: 4, batch: 2, optimizer: AdamWConfig(lr: 1e-3))), changes: [
            ("model", { $0.model = id(3) }), ("data", { $0.data = id(4) }), ("steps", { $0.config.steps = 5 }), ("batch", { $0.config.batch = 3 }),
            ("learning rate", { $0.config.optimizer.lr = 2e-3 }), ("weight decay", { $0.config.optimizer.weightDecay = 0 }),
            ("max grad norm", { $0.config.optimizer.clip = 0.25 }), ("seed", { $0.config.seed = 7 }),
        ], same: [("progress callback", { $0.onStep = { _, _ in } })])
    }

    /// An import is keyed by the bytes it reads and the format, not by where the files are.
    @Test func importKeysOnTheFilesBytes() throws {
        let scratch = ScratchDirectory("stage-key-import")
        let store = try Store.create(at: scratch.file("store"))
        let (a, b, c) = (scratch.file("a.bin"), scratch.file("b.bin"), scratch.file("c.bin"))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: a))
        try Data([1, 2, 3]).write(to: URL(fileURLWithPath: b))
        try Data([1, 2, 4]).write(to: URL(fileURLWithPath: c))
        let base = try ImportStage(.llama2c(file: a, tokenizer: a), store: store)
        #expect(key(base) == key(try ImportStage(.llama2c(file: b, tokenizer: b), store: store)), "the same bytes elsewhere")
        let others = [try ImportStage(.llama2c(file: c, tokenizer: a), store: store), try ImportStage(.llama2c(file: a, tokenizer: c), store: store),
                      try ImportStage(.safetensors(a), store: store)]
        #expect(Set(others.map(key) + [key(base)]).count == 4, "model bytes, tokenizer bytes and format each move the key")
        #expect { try ImportStage(.safetensors(scratch.file("missing.safetensors")), store: store) } throws: { "\($0)".contains("missing.safetensors") }
    }
}
