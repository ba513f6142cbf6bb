// `bridge stage lora-init | ref-logprobs | lower-step | upper-step | eval`: the training stages by
// hand, with explicit inputs (ref names, ids or unique id prefixes). Each runs under the run's
// journal (skipped when the same key is already done), prints its outputs and metrics, and points
// refs/runs/RUN/<role> at each output (theta, theta_hat, lora, their optimizer states, lora_grads,
// ...), so `bridge ckpt diff runs/R/theta runs/R/theta_hat` works after a step.

import ArgumentParser
import Checkpoint
import Foundation
import LanguageModel
import Pipeline
import ShardStore
import Training

extension Store {
    func id(_ ref: String?) throws -> ObjectID? { try ref.map { try resolve($0).id } }
}

struct GRPOOptions: ParsableArguments {
    @Option(help: "KL coefficient β (0: no π_ref).") var beta = 0.001
    @Option(help: "Clip range ε.") var epsilon = 0.2
    @Option(name: .customLong("epsilon-high"), help: "Upper clip range (default: ε).") var epsilonHigh: Double?
    @Option(name: .customLong("loss-type"), help: "grpo, bnpo, dapo or dr_grpo.") var lossType = "dapo"
    @Option(help: "Sampling temperature of the rollouts (log-probs are taken at it).") var temperature = 1.0
    @Option(name: .customLong("max-completion-length"), help: "dr_grpo's normaliser (the rollouts' max tokens).") var maxCompletionLength = 256

    func config() throws -> GRPOConfig {
        guard let type = GRPOLossType(rawValue: lossType) else { throw UserError("invalid value for 'rl.loss_type': '\(lossType)' (grpo, bnpo, dapo or dr_grpo)") }
        let c = GRPOConfig(beta: beta, epsilon: epsilon, epsilonHigh: epsilonHigh, lossType: type, temperature: temperature, maxCompletionLength: maxCompletionLength)
        try c.validate()
        return c
    }
}

struct AdamWOptions: ParsableArguments {
    @Option(name: .customLong("lr"), help: "Learning rate.") var lr: Float
    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay.") var weightDecay: Float = 0.01
    @Option(name: .customLong("max-grad-norm"), help: "Clip the global gradient norm (0: off).") var maxGradNorm: Float = 1.0

    func config(key: String) throws -> AdamWConfig {
        let c = AdamWConfig(lr: lr, weightDecay: weightDecay, clip: maxGradNorm > 0 ? maxGradNorm : nil)
        try c.validate(key: key)
        return c
    }
}

struct LoRAInitCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "lora-init", abstract: "A fresh LoRA adapter for a base model (A random from the seed's lora-init stream, B = 0).")
    @OptionGroup var options: RunOptions
    @Option(help: "The base model (ref or id).") var base: String
    @Option(help: "Rank r.") var r = 16
    @Option(name: .customLong("lora-alpha"), help: "lora_alpha (scale = alpha / r).") var loraAlpha = 16.0
    @Option(name: .customLong("target-modules"), help: "Comma-separated q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj, or all-linear.") var targetModules = "all-linear"
    @Option(help: "Run seed.") var seed: UInt64 = 0

    func run() throws {
        let targets = try parseTargetModules(targetModules)
        guard r > 0 else { throw UserError("invalid value for 'bridge.lora.r': must be > 0") }
        let store = try options.storeOptions.open()
        try options.execute(LoRAInitStage(base: try store.resolve(base).id, config: LoRAConfig(r: r, loraAlpha: loraAlpha, targetModules: targets), seed: seed), in: store, everyRole: true)
    }
}

func parseTargetModules(_ text: String) throws -> [LoRATarget] {
    if text == "all-linear" { return LoRATarget.allCases }
    return try text.split(separator: ",").map { name in
        guard let t = LoRATarget(rawValue: String(name).trimmingCharacters(in: .whitespaces)) else {
            throw UserError("invalid value for 'bridge.lora.target_modules': unknown module '\(name)' (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj or all-linear)")
        }
        return t
    }
}

struct RefLogprobsCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "ref-logprobs", abstract: "Per-token log-probs of responses under a reference policy (π_ref), at the sampling temperature.")
    @OptionGroup var options: RunOptions
    @Option(help: "The reference model (ref or id).") var reference: String
    @Option(help: "The responses (ref or id).") var responses: String
    @Option(help: "The prompt shard the responses answer.") var prompts: String
    @Option(help: "Sampling temperature of the responses.") var temperature = 1.0
    @Option(help: "Sequences per forward pass.") var chunk = 8

    func run() throws {
        let store = try options.storeOptions.open()
        try options.execute(RefLogprobsStage(reference: try store.resolve(reference).id, responses: try store.resolve(responses).id,
                                                          prompts: try store.resolve(prompts).id, temperature: temperature, chunk: chunk), in: store, everyRole: true)
    }
}

struct LowerStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lower-step",
        abstract: "One lower-level step: θ (and θ̂ with an adapter) from (1−λ)·SFT + λ·RL gradients; the adapter's gradient for upper-step.",
        discussion: """
            Methods by inputs: sft (--lambda 0), rl-zero (--lambda 1, no --lora), naive-mixing (no --lora), \
            bridge (--theta-hat and --lora; --shadow-* for separate shadow rollouts). Missing optimizer states start fresh.
            """)
    @OptionGroup var options: RunOptions
    @Option var theta: String
    @Option(name: .customLong("theta-optimizer")) var thetaOptimizer: String?
    @Option(name: .customLong("theta-hat")) var thetaHat: String?
    @Option(name: .customLong("theta-hat-optimizer")) var thetaHatOptimizer: String?
    @Option(help: "The adapter w (BRIDGE).") var lora: String?
    @Option(help: "SFT shard.") var sft: String?
    @Option(name: .customLong("sft-cursor"), help: "First position in the SFT order (step × batch).") var sftCursor = 0
    @Option(name: .customLong("sft-batch"), help: "SFT examples per step.") var sftBatch = 8
    @Option(help: "Run seed (the SFT order).") var seed: UInt64 = 0
    @Option(help: "RL prompt shard.") var prompts: String?
    @Option var responses: String?
    @Option var scores: String?
    @Option(name: .customLong("ref-logprobs")) var refLogprobs: String?
    @Option(name: .customLong("shadow-responses")) var shadowResponses: String?
    @Option(name: .customLong("shadow-scores")) var shadowScores: String?
    @Option(name: .customLong("shadow-ref-logprobs")) var shadowRefLogprobs: String?
    @Option(help: "λ in [0, 1]: the weight of RL against SFT.") var lambda: Double
    @OptionGroup var grpo: GRPOOptions
    @OptionGroup var adam: AdamWOptions
    @Option(help: "Sequences per forward/backward chunk.") var chunk = 8
    @Option(name: .customLong("num-iterations"), help: "Optimizer steps on this batch (TRL num_iterations; > 1 clips the ratio to π_old).") var numIterations = 1

    func run() throws {
        let store = try options.storeOptions.open()
        func rl(_ r: String?, _ s: String?, _ ref: String?, _ what: String) throws -> LowerStepStage.RLInputs? {
            guard let r else { return nil }
            guard let s else { throw UserError("--\(what)responses needs --\(what)scores") }
            return .init(responses: try store.resolve(r).id, scores: try store.resolve(s).id, refLogprobs: try store.id(ref))
        }
        let stage = LowerStepStage(theta: try store.resolve(theta).id, thetaOptimizer: try store.id(thetaOptimizer), thetaHat: try store.id(thetaHat),
                                   thetaHatOptimizer: try store.id(thetaHatOptimizer), lora: try store.id(lora), sft: try store.id(sft),
                                   sftCursor: sftCursor, sftBatch: sftBatch, seed: seed, prompts: try store.id(prompts),
                                   rl: try rl(responses, scores, refLogprobs, ""), shadowRL: try rl(shadowResponses, shadowScores, shadowRefLogprobs, "shadow-"),
                                   lambda: lambda, grpo: try grpo.config(), optimizer: try adam.config(key: "train"), chunk: chunk,
                                   numIterations: numIterations)
        try stage.validate()
        try options.execute(stage, in: store, everyRole: true)
    }
}

struct UpperStepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "upper-step", abstract: "One upper-level step: the adapter w from the lower step's gradient (AdamW, clipped).")
    @OptionGroup var options: RunOptions
    @Option var lora: String
    @Option(name: .customLong("lora-optimizer")) var loraOptimizer: String?
    @Option(name: .customLong("lora-grads")) var loraGrads: String
    @OptionGroup var adam: AdamWOptions

    func run() throws {
        let store = try options.storeOptions.open()
        try options.execute(UpperStepStage(lora: try store.resolve(lora).id, loraOptimizer: try store.id(loraOptimizer),
                                                        loraGrads: try store.resolve(loraGrads).id, optimizer: try adam.config(key: "bridge.lora_optimizer")), in: store, everyRole: true)
    }
}

struct EvalStageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "eval", abstract: "A policy (base + optional adapter) answers an eval shard; answers graded (pass@1 greedy, or avg@n sampled).")
    @OptionGroup var options: RunOptions
    @Option var policy: String
    @Option var adapter: String?
    @Option(help: "An eval (or rl) prompt shard.") var prompts: String
    @Option(help: "The tokenizer (file or model ref) the shard was made with.") var tokenizer: String
    @Option(name: .customLong("max-tokens")) var maxTokens = 256
    @Option var limit: Int?
    @Option(help: "0 = greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-p")) var topP: Float = 1
    @Option(help: "Answers per problem (sampling only).") var samples = 1
    @Option var seed: UInt64 = 0
    @Option(name: .customLong("generation-batch"), help: "Sequences decoded together.") var generationBatch = 64

    func run() throws {
        let store = try options.storeOptions.open()
        let tok = try TokenizerArgument(tokenizer, store: store).store(in: store)
        let stage = EvalStage(policy: try store.resolve(policy).id, adapter: try store.id(adapter), prompts: try store.resolve(prompts).id, tokenizer: tok,
                              maxNewTokens: maxTokens, limit: limit, temperature: temperature, topP: topP, samples: samples, seed: seed,
                              generationBatch: generationBatch)
        try stage.validate()
        try options.execute(stage, in: store, everyRole: true)
    }
}
