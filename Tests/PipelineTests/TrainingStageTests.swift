// The training stages on the real stories260K model and the synthetic task: a BRIDGE iteration
// from lora-init to upper-step, then one with separate shadow rollouts; the same inputs write the
// same ids whatever the thread count; λ = 1 with shared rollouts keeps θ̂ and θ one object;
// a B = 0 adapter rolls out exactly what the base does; configuration errors name their key and
// write nothing; eval grades greedy answers, independent of the generation batch.

import Foundation
import Testing
import TestSupport
import Checkpoint
import LanguageModel
import Tensors
import Training
@testable import Pipeline
@testable import ShardStore

struct TrainingSetup {
    let store: Store
    let theta: ObjectID
    let tokenizer: ObjectID
    let sft: ObjectID
    let rl: ObjectID
    let eval: ObjectID
    let lora: ObjectID

    static let grpo = GRPOConfig(beta: 0.001, epsilon: 0.2, lossType: .dapo, temperature: 0.7, maxCompletionLength: 12)
    static let adam = AdamWConfig(lr: 1e-3, weightDecay: 0.01, clip: 1.0)

    init(_ scratch: ScratchDirectory) throws {
        store = try Store.create(at: scratch.file("s"))
        theta = try #require(try store.importLlama2c(file: storiesFixtures + "/stories260K.bin", tokenizer: storiesFixtures + "/tok512.bin").id)
        tokenizer = try store.put(Array(try Data(contentsOf: URL(fileURLWithPath: storiesFixtures + "/tok512.bin"))), kind: .blob).id
        let (store, tokenizer) = (store, tokenizer)
        func shard(_ kind: TokenShard.Kind, count: Int, split: String) throws -> ObjectID {
            try TokenizeStage(tokenizer: tokenizer, source: .synthetic(seed: 3, level: 1, count: count, split: split), kind: kind).run(in: store).id("shard")
        }
        sft = try shard(.sft, count: 16, split: "train")
        rl = try shard(.rl, count: 8, split: "train")
        eval = try shard(.eval, count: 4, split: "test")
        lora = try LoRAInitStage(base: theta, config: LoRAConfig(r: 4, loraAlpha: 8, targetModules: LoRATarget.allCases), seed: 0).run(in: store).id("lora")
    }

    func rollout(_ policy: ObjectID, adapter: ObjectID?, cursor: Int = 0, purpose: String = "rollout", generationBatch: Int = 64) throws -> ObjectID {
        try RolloutStage(policy: policy, adapter: adapter, prompts: rl, cursor: cursor, batch: 2, groupSize: 3, maxNewTokens: 12, temperature: 0.7,
                         seed: 1, purpose: purpose, order: .shuffled, generationBatch: generationBatch).run(in: store).id("responses")
    }

    /// Rollout → score → ref-logprobs (π_ref = θ⁰).
    func scored(_ policy: ObjectID, adapter: ObjectID?, cursor: Int = 0, purpose: String = "rollout") throws -> LowerStepStage.RLInputs {
        let responses = try rollout(policy, adapter: adapter, cursor: cursor, purpose: purpose)
        let scores = try ScoreStage(responses: responses, prompts: rl, tokenizer: tokenizer).run(in: store).id("scores")
        let ref = try RefLogprobsStage(reference: theta, responses: responses, prompts: rl, temperature: 0.7).run(in: store).id("ref_logprobs")
        return .init(responses: responses, scores: scores, refLogprobs: ref)
    }

    func lower(theta: ObjectID, thetaOptimizer: ObjectID? = nil, thetaHat: ObjectID?, thetaHatOptimizer: ObjectID? = nil, lora: ObjectID?,
               rl: LowerStepStage.RLInputs?, shadowRL: LowerStepStage.RLInputs? = nil, lambda: Double, step: Int = 0,
               grpo: GRPOConfig = TrainingSetup.grpo) -> LowerStepStage {
        LowerStepStage(theta: theta, thetaOptimizer: thetaOptimizer, thetaHat: thetaHat, thetaHatOptimizer: thetaHatOptimizer, lora: lora,
                       sft: sft, sftCursor: step * 4, sftBatch: 4, seed: 1, prompts: self.rl, rl: rl, shadowRL: shadowRL, lambda: lambda,
                       grpo: grpo, optimizer: TrainingSetup.adam, chunk: 4)
    }
}

@Suite struct TrainingStageTests {
    let scratch = ScratchDirectory("training-stages")

    @Test func aBridgeIterationThroughTheStagesAndASecondWithSeparateShadowRollouts() throws {
        let s = try TrainingSetup(scratch)
        // the adapter: PEFT names, B = 0, its own set
        let adapterSet = try s.store.tensorSet(s.lora)
        #expect(adapterSet.tensors.allSatisfy { $0.name.hasPrefix("base_model.model.model.layers.") })
        let w0 = try s.store.loadAdapter(adapterSet, for: try s.store.modelConfig(of: try s.store.tensorSet(s.theta)))
        #expect(w0.layout.layers.flatMap { $0 }.allSatisfy { p in (0..<(p.outFeatures * 4)).allSatisfy { w0.params[p.b + $0] == 0 } })
        #expect(w0.params.array.contains { $0 != 0 })

        // B = 0: base + adapter samples exactly what the base samples
        #expect(try s.rollout(s.theta, adapter: s.lora) == s.rollout(s.theta, adapter: nil))
        // and the generation batch changes nothing
        #expect(try s.rollout(s.theta, adapter: s.lora, generationBatch: 3) == s.rollout(s.theta, adapter: s.lora))

        let rl0 = try s.scored(s.theta, adapter: s.lora)
        let stage = s.lower(theta: s.theta, thetaHat: s.theta, lora: s.lora, rl: rl0, lambda: 0.5)
        let step = try KernelThreads.limit(to: 2) { try stage.run(in: s.store) }
        #expect(step.metrics["passes"]?.intValue == 2 && step.metrics["shared_rl_pass"] == .bool(true) && step.metrics["gain_grad_norm"]?.doubleValue == 0)
        // the same inputs write no new object, whatever the thread count
        let objects = try s.store.allObjectIDs().count
        let again = try KernelThreads.limit(to: 1) { try stage.run(in: s.store) }
        #expect(again.outputs == step.outputs)
        #expect(try s.store.allObjectIDs().count == objects)

        let theta1 = try step.id("theta"), hat1 = try step.id("theta_hat")
        #expect(theta1 != hat1 && theta1 != s.theta)
        let upper = try UpperStepStage(lora: s.lora, loraGrads: try step.id("lora_grads"), optimizer: AdamWConfig(lr: 1e-2, weightDecay: 0.01, clip: 1)).run(in: s.store)
        let w1 = try upper.id("lora")
        #expect(w1 != s.lora && (upper.metrics["update_norm_lora"]?.doubleValue ?? 0) > 0)

        // iteration 1: θ¹ + w¹ and, separately, θ̂¹ + w¹
        let rl1 = try s.scored(theta1, adapter: w1, cursor: 2)
        let shadow1 = try s.scored(hat1, adapter: w1, cursor: 2, purpose: "shadow-rollout")
        #expect(rl1.responses != shadow1.responses)
        let second = try s.lower(theta: theta1, thetaOptimizer: try step.id("theta_optimizer"), thetaHat: hat1,
                                 thetaHatOptimizer: try step.id("theta_hat_optimizer"), lora: w1, rl: rl1, shadowRL: shadow1, lambda: 0.5, step: 1).run(in: s.store)
        #expect(second.metrics["passes"]?.intValue == 2 && second.metrics["shared_rl_pass"] == .bool(false))
        #expect((second.metrics["grad_norm_lora"]?.doubleValue ?? 0) > 0)
        let opt = try s.store.tensorSet(try second.id("theta_optimizer"))
        #expect(opt.metadata["step"]?.intValue == 2)
        // outputs carry no role names, steps or parents
        for role in ["theta", "theta_hat"] {
            let set = try s.store.tensorSet(try second.id(role))
            #expect(set.parent == nil && set.metadata.keys.sorted() == [ModelMetadata.config])
        }
    }

    @Test func withLambdaOneAndSharedRolloutsThetaHatStaysTheSameObject() throws {
        let s = try TrainingSetup(scratch)
        var theta = s.theta, hat = s.theta, lora = s.lora
        var opt: ObjectID? = nil, hatOpt: ObjectID? = nil
        for k in 0..<2 {
            let rl = try s.scored(theta, adapter: lora, cursor: 2 * k)
            let r = try s.lower(theta: theta, thetaOptimizer: opt, thetaHat: hat, thetaHatOptimizer: hatOpt, lora: lora, rl: rl, lambda: 1, step: k).run(in: s.store)
            #expect(try r.id("theta") == r.id("theta_hat"), "step \(k)")
            #expect(try r.id("theta_optimizer") == r.id("theta_hat_optimizer"))
            #expect(r.metrics["passes"]?.intValue == 1)
            (theta, hat, opt, hatOpt) = (try r.id("theta"), try r.id("theta_hat"), try r.id("theta_optimizer"), try r.id("theta_hat_optimizer"))
            lora = try UpperStepStage(lora: lora, loraGrads: try r.id("lora_grads"), optimizer: AdamWConfig(lr: 1e-2)).run(in: s.store).id("lora")
        }
        #expect(theta != s.theta)
    }

    @Test func configurationErrorsNameTheKeyAndWriteNothing() throws {
        let s = try TrainingSetup(scratch)
        let rl0 = try s.scored(s.theta, adapter: s.lora)
        let before = try s.store.allObjectIDs().count
        func key(_ stage: LowerStepStage) -> String? {
            do { _ = try stage.run(in: s.store) } catch let TrainingConfigError.invalid(key, _) { return key } catch { return "other: \(error)" }
            return nil
        }
        #expect(key(s.lower(theta: s.theta, thetaHat: s.theta, lora: s.lora, rl: rl0, lambda: 1.5)) == "bridge.lambda")
        #expect(key(s.lower(theta: s.theta, thetaHat: s.theta, lora: s.lora, rl: rl0, lambda: -0.1)) == "bridge.lambda")
        var noRef = rl0
        noRef.refLogprobs = nil
        #expect(key(s.lower(theta: s.theta, thetaHat: s.theta, lora: s.lora, rl: noRef, lambda: 0.5)) == "rl.beta")
        var cold = TrainingSetup.grpo
        cold.temperature = 0
        #expect(key(s.lower(theta: s.theta, thetaHat: nil, lora: nil, rl: rl0, lambda: 1, grpo: cold)) == "rl.temperature")
        #expect(key(s.lower(theta: s.theta, thetaHat: s.theta, lora: nil, rl: rl0, lambda: 0.5)) == "method")
        #expect(try s.store.allObjectIDs().count == before)
        // one response per prompt: GRPO has no group to compare with
        let single = try RolloutStage(policy: s.theta, prompts: s.rl, cursor: 0, batch: 2, groupSize: 1, maxNewTokens: 8, temperature: 0.7).run(in: s.store).id("responses")
        let singleScores = try ScoreStage(responses: single, prompts: s.rl, tokenizer: s.tokenizer).run(in: s.store).id("scores")
        var zeroBeta = TrainingSetup.grpo
        zeroBeta.beta = 0
        #expect(key(s.lower(theta: s.theta, thetaHat: nil, lora: nil, rl: .init(responses: single, scores: singleScores), lambda: 1, grpo: zeroBeta)) == "rl.num_generations")
        // responses of another prompt shard
        let other = try TokenizeStage(tokenizer: s.tokenizer, source: .synthetic(seed: 4, level: 1, count: 8, split: "train"), kind: .rl).run(in: s.store).id("shard")
        var wrong = s.lower(theta: s.theta, thetaHat: nil, lora: nil, rl: rl0, lambda: 1)
        wrong.prompts = other
        #expect(throws: PipelineError.self) { try wrong.run(in: s.store) }
        // an unknown LoRA target module
        #expect(throws: ModelError.self) { try LoRAConfig(json: ["r": 4, "lora_alpha": 8, "target_modules": ["qkv_proj"]]) }
    }

    /// θ̂ and its AdamW state are read only after θ′ is stored; they are checked before any work.
    @Test func aShadowStateOfAnotherLayoutIsRefusedBeforeAnythingIsStored() throws {
        let s = try TrainingSetup(scratch)
        let rl0 = try s.scored(s.theta, adapter: s.lora)
        let step = try s.lower(theta: s.theta, thetaHat: s.theta, lora: s.lora, rl: rl0, lambda: 0.5).run(in: s.store)
        let wOpt = try UpperStepStage(lora: s.lora, loraGrads: try step.id("lora_grads"), optimizer: AdamWConfig(lr: 1e-2)).run(in: s.store).id("lora_optimizer")
        let before = try s.store.allObjectIDs().count
        let wrong = s.lower(theta: try step.id("theta"), thetaOptimizer: try step.id("theta_optimizer"), thetaHat: try step.id("theta_hat"),
                            thetaHatOptimizer: wOpt, lora: s.lora, rl: rl0, lambda: 0.5, step: 1)
        let error = #expect(throws: (any Error).self) { try wrong.run(in: s.store) }
        #expect("\(error.map { $0 } as Any)".contains("exp_avg.model."), "names a missing moment: \(String(describing: error))")
        #expect(try s.store.allObjectIDs().count == before)
    }

    @Test func evalGradesGreedyAnswersWhateverTheGenerationBatch() throws {
        let s = try TrainingSetup(scratch)
        let a = try EvalStage(policy: s.theta, adapter: s.lora, prompts: s.eval, tokenizer: s.tokenizer, maxNewTokens: 16).run(in: s.store)
        let b = try EvalStage(policy: s.theta, adapter: s.lora, prompts: s.eval, tokenizer: s.tokenizer, maxNewTokens: 16, generationBatch: 1).run(in: s.store)
        #expect(a.outputs == b.outputs)
        #expect(a.metrics["problems"]?.intValue == 4 && a.metrics["accuracy"]?.doubleValue != nil)
        let r = try Responses.load(from: s.store, id: try a.id("responses"))
        #expect(r.count == 4 && r.groupSize == 1)
        let sampled = try EvalStage(policy: s.theta, prompts: s.eval, tokenizer: s.tokenizer, maxNewTokens: 16, temperature: 1, samples: 3).run(in: s.store)
        #expect(try Responses.load(from: s.store, id: try sampled.id("responses")).count == 12)
        #expect(throws: TrainingConfigError.self) { try EvalStage(policy: s.theta, prompts: s.eval, tokenizer: s.tokenizer, maxNewTokens: 16, samples: 2).run(in: s.store) }
    }

    @Test func everyStageWritesTheSameIdsWhateverTheThreadCount() throws {
        let s = try TrainingSetup(scratch)
        let rl0 = try s.scored(s.theta, adapter: s.lora)
        let stages: [(String, () throws -> StageResult)] = [
            ("lora-init", { try LoRAInitStage(base: s.theta, config: LoRAConfig(r: 2, loraAlpha: 4, targetModules: [.q, .v]), seed: 3).run(in: s.store) }),
            ("rollout", { try RolloutStage(policy: s.theta, adapter: s.lora, prompts: s.rl, cursor: 1, batch: 2, groupSize: 2, maxNewTokens: 10,
                                           temperature: 0.9, seed: 2, order: .shuffled).run(in: s.store) }),
            ("ref-logprobs", { try RefLogprobsStage(reference: s.theta, responses: rl0.responses, prompts: s.rl, temperature: 0.7, chunk: 4).run(in: s.store) }),
            ("lower-step", { try s.lower(theta: s.theta, thetaHat: nil, lora: nil, rl: rl0, lambda: 0.3).run(in: s.store) }),
            ("eval", { try EvalStage(policy: s.theta, adapter: s.lora, prompts: s.eval, tokenizer: s.tokenizer, maxNewTokens: 8).run(in: s.store) }),
        ]
        for (name, run) in stages {
            let one = try KernelThreads.limit(to: 1) { try run() }
            let two = try KernelThreads.limit(to: 2) { try run() }
            #expect(one.outputs == two.outputs, "\(name)")
        }
    }

    @Test func numIterationsTakesSeveralStepsWithTheRatioToTheOldPolicy() throws {
        let s = try TrainingSetup(scratch)
        let rl0 = try s.scored(s.theta, adapter: s.lora)
        var one = s.lower(theta: s.theta, thetaHat: s.theta, lora: s.lora, rl: rl0, lambda: 0.5)
        var three = one
        three.numIterations = 3
        one.optimizer.lr = 0.05
        three.optimizer.lr = 0.05
        let a = try one.run(in: s.store), b = try three.run(in: s.store)
        #expect(b.metrics["inner_steps"]?.intValue == 3 && b.metrics["passes"]?.intValue == 6)
        #expect(try a.id("theta") != b.id("theta"))
        // Gw is taken at the old iterates: the same as with one inner step, up to the pass layout
        let ga = try s.store.loadTensors(try s.store.tensorSet(try a.id("lora_grads")))
        let gb = try s.store.loadTensors(try s.store.tensorSet(try b.id("lora_grads")))
        func values(_ t: Tensor) -> [Float] { (FloatBuffer(borrowing: t) ?? FloatBuffer.converting(t))!.array }
        for (name, t) in ga {
            let expected = values(t)
            expectClose(values(gb[name]!), expected, rtol: 1e-5, atol: 1e-6 * Double(expected.map { abs($0) }.max() ?? 1), name)
        }
        let opt = try s.store.tensorSet(try b.id("theta_optimizer"))
        #expect(opt.metadata["step"]?.intValue == 3)
    }

    /// The stage runs θ's side (passes, AdamW, stored) before it reads θ̂, and reads each AdamW
    /// state only once its gradient is in memory; it must store what the in-memory step computes
    /// with both sides loaded together, bit for bit: θ̂ ≡ θ (one RL pass), θ̂ ≠ θ on shared and on
    /// separate rollouts, and two inner steps (π_old of each base).
    @Test func theStageStoresWhatTheInMemoryStepComputesWithBothSidesLoaded() throws {
        let s = try TrainingSetup(scratch)
        let rl0 = try s.scored(s.theta, adapter: s.lora)
        let first = s.lower(theta: s.theta, thetaHat: s.theta, lora: s.lora, rl: rl0, lambda: 0.5)
        let r0 = try first.run(in: s.store)
        try expectStoredAsInMemory(first, r0, s)
        var twice = first
        twice.numIterations = 2
        try expectStoredAsInMemory(twice, try twice.run(in: s.store), s)

        let (theta1, hat1) = (try r0.id("theta"), try r0.id("theta_hat"))
        let w1 = try UpperStepStage(lora: s.lora, loraGrads: try r0.id("lora_grads"), optimizer: AdamWConfig(lr: 1e-2)).run(in: s.store).id("lora")
        let rl1 = try s.scored(theta1, adapter: w1, cursor: 2)
        let shadow1 = try s.scored(hat1, adapter: w1, cursor: 2, purpose: "shadow-rollout")
        for shadowRL in [nil, shadow1] {
            var second = s.lower(theta: theta1, thetaOptimizer: try r0.id("theta_optimizer"), thetaHat: hat1,
                                 thetaHatOptimizer: try r0.id("theta_hat_optimizer"), lora: w1, rl: rl1, shadowRL: shadowRL, lambda: 0.5, step: 1)
            try expectStoredAsInMemory(second, try second.run(in: s.store), s)
            second.numIterations = 2
            try expectStoredAsInMemory(second, try second.run(in: s.store), s)
        }
    }

    /// `LowerStep.run` on the stage's inputs, every part in memory at once (as the stage did before
    /// it ran the sides one after the other), against the stage's stored outputs.
    func expectStoredAsInMemory(_ stage: LowerStepStage, _ result: StageResult, _ s: TrainingSetup) throws {
        let store = s.store
        func model(_ id: ObjectID) throws -> Transformer { try store.loadModel(try store.tensorSet(id)).model }
        let theta = try model(stage.theta)
        let layout = theta.layout
        let adapter = try store.loadAdapter(try store.tensorSet(try #require(stage.lora)), for: theta.config)
        func optimizer(_ id: ObjectID?) throws -> AdamW {
            try store.optimizer(id, config: stage.optimizer, entries: layout.entries, count: layout.totalCount)
        }
        let hatID = try #require(stage.thetaHat)
        let shadowIsTheta = hatID == stage.theta && stage.thetaHatOptimizer == stage.thetaOptimizer
        let thetaPart = TrainedPart(model: theta, optimizer: try optimizer(stage.thetaOptimizer))
        let hatPart = TrainedPart(model: try model(hatID), optimizer: try optimizer(stage.thetaHatOptimizer))
        let shard = try TokenShard.load(from: store, id: try #require(stage.sft))
        let rows = EpochOrder(count: shard.count, seed: stage.seed, purpose: "sft-order").items(stage.sftCursor..<(stage.sftCursor + stage.sftBatch))
        var data = LowerStepData(sft: CompletionBatch(prompts: rows.map { Array(shard.prompt($0)) }, completions: rows.map { Array(shard.target($0)) }),
                                 rl: try stage.rlBatch(try #require(stage.rl), store: store),
                                 shadowRL: try stage.shadowRL.map { try stage.rlBatch($0, store: store) })
        if stage.numIterations > 1, let rl = data.rl {
            data.rl!.oldLogps = try PolicyGradient.logProbs(model: theta, lora: adapter, batch: rl.batch, temperature: stage.grpo.temperature, chunk: stage.chunk)
            var hatRL = data.shadowRL ?? rl
            hatRL.oldLogps = shadowIsTheta && data.shadowRL == nil ? data.rl!.oldLogps
                : try PolicyGradient.logProbs(model: hatPart.model, lora: adapter, batch: hatRL.batch, temperature: stage.grpo.temperature, chunk: stage.chunk)
            data.shadowRL = hatRL
        }
        let loraGrads = FloatBuffer(count: adapter.layout.totalCount)
        for inner in 0..<stage.numIterations {
            try LowerStep.run(theta: thetaPart, shadow: hatPart, shadowIsTheta: inner == 0 && shadowIsTheta, lora: adapter,
                              loraGrads: inner == 0 ? loraGrads : nil, data: data, lambda: stage.lambda, config: stage.grpo, chunk: stage.chunk)
        }
        let label = "\(stage.numIterations) inner step(s), θ̂ \(shadowIsTheta ? "≡" : "≠") θ, \(stage.shadowRL == nil ? "shared" : "separate") rollouts"
        /// elements whose bits differ
        func differing(_ a: FloatBuffer, _ b: FloatBuffer) -> Int {
            a.count != b.count ? max(a.count, b.count) : zip(a.array, b.array).filter { $0.bitPattern != $1.bitPattern }.count
        }
        #expect(differing(try model(try result.id("theta")).params, theta.params) == 0, "θ′, \(label)")
        #expect(differing(try model(try result.id("theta_hat")).params, hatPart.model.params) == 0, "θ̂′, \(label)")
        for (role, part) in [("theta_optimizer", thetaPart), ("theta_hat_optimizer", hatPart)] {
            let stored = try store.loadOptimizerState(try store.tensorSet(try result.id(role)), entries: layout.entries)
            #expect(differing(stored.m, part.optimizer.m) == 0 && differing(stored.v, part.optimizer.v) == 0 && stored.step == part.optimizer.step,
                    "\(role), \(label)")
        }
        let grads = try adapter.layout.assemble(try store.loadTensors(try store.tensorSet(try result.id("lora_grads"))))
        #expect(differing(grads, loraGrads) == 0, "Gw, \(label)")
    }
}
