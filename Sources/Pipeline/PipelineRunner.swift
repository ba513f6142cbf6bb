// The runner behind `bridge run` (DESIGN.md §3): expands a pipeline's method into its per-step
// stages, runs each through the StageRunner (skipped when the run's journal already holds its key
// with outputs present), then commits the step: the run state object, refs/runs/R/head by
// compare-and-swap, refs/runs/R/{theta,theta_hat,lora} following it (runs/R/base: the start), refs/runs/R/steps/K per the
// retention schedule. A crash loses at most the stage in flight; running the same command again
// recomputes nothing that was journaled and continues to the same head. A different config under
// the same run name is refused. An interrupt (Ctrl-C) stops after the stage in flight.

import Checkpoint
import Foundation
import LanguageModel
import ShardStore
import Tensors
import Training

/// Set by SIGINT; the runner checks it between stages.
nonisolated(unsafe) public var pipelineInterrupted = false

public struct PipelineRunner {
    public let store: Store
    public let config: PipelineConfig
    public let run: String
    /// Step summaries and notices.
    public var log: (String) -> Void
    /// One line per stage executed or skipped.
    public var stageLog: (String) -> Void
    /// Events for a progress display: a stage starts, a step is committed.
    public var progress: (RunProgress) -> Void = { _ in }

    public init(store: Store, config: PipelineConfig, run: String, log: @escaping (String) -> Void = { _ in },
                stageLog: @escaping (String) -> Void = { _ in }) throws {
        try validateRunName(run)
        self.store = store
        self.config = config
        self.run = run
        self.log = log
        self.stageLog = stageLog
    }

    var headRef: RefName { get throws { try RefName("runs/\(run)/head") } }

    /// The canonical config as stored (without `steps`: a longer run of one pipeline is one run).
    var configManifest: JSONValue {
        var o = config.identity.objectValue ?? [:]
        o["format"] = "bridge-pipeline-config"
        return .object(o)
    }

    /// The id of the stored canonical config, computed without writing it.
    public func configID() -> ObjectID { ObjectHasher.id(of: configManifest.canonicalBytes, kind: .manifest) }

    /// Everything that can be checked before any work, so bad input writes nothing: the config
    /// against the run's existing head, the model ref or files, the data files. Errors name the key.
    public func preflight() throws {
        if let headID = try store.readRef(try headRef) {
            let state = try store.runState(headID)
            guard state.config == configID() else {
                throw PipelineConfigError(description: "run '\(run)' was started with another config (\(state.config.hex.prefix(12)), this one is \(configID().hex.prefix(12)))\nhint: choose another --run NAME, or see 'bridge status \(run)'")
            }
        }
        func readable(_ path: String, _ key: String) throws {
            do { try InputFile.checkReadable(path) } catch {
                throw config.error(at: key, "no readable file '\(path)' (\(error.reason))")
            }
        }
        switch config.model {
        case let .ref(r):
            let id: ObjectID
            do { id = try store.resolve(r).id } catch {
                throw config.error(at: "model.ref", "\(error)")
            }
            guard (try? store.tensorSet(id)) != nil else {
                throw config.error(at: "model.ref", "'\(r)' is not a tensor set")
            }
        case let .hf(dir):
            guard (try? InputFile.checkReadable(dir + "/config.json")) != nil else {
                throw config.error(at: "model.hf", "no Hugging Face model directory '\(dir)' (no readable config.json in it)\nhint: name yours with --set model.hf=DIR")
            }
        case let .llama2c(file, tok):
            try readable(file, "model.llama2c")
            try readable(tok, "model.tokenizer")
        }
        let specs = [("data.sft", config.sft), ("data.rl", config.rl)] + config.eval.enumerated().map { ("data.eval[\($0)]", $1) }
        for case let (key, spec?) in specs {
            if case let .file(paths, _) = spec.source {
                for (i, path) in paths.enumerated() { try readable(path, key + (paths.count == 1 ? ".file" : ".file[\(i)]")) }
            }
        }
    }

    /// The data of a run, computed (or found in the journal) from the config.
    struct Inputs {
        let model: ObjectID
        let tokenizer: ObjectID
        let sft: ObjectID?
        let rl: ObjectID?
        let eval: [(name: String, shard: ObjectID)]
    }

    func prepare(_ runner: StageRunner) throws -> Inputs {
        let modelSet: TensorSet
        switch config.model {
        case let .ref(r): modelSet = try store.tensorSet(try store.resolve(r).id)
        case let .hf(dir): modelSet = try store.tensorSet(try runner.execute(ImportStage(.huggingFace(directory: dir), store: store)).result.id("set"))
        case let .llama2c(file, tok): modelSet = try store.tensorSet(try runner.execute(ImportStage(.llama2c(file: file, tokenizer: tok), store: store)).result.id("set"))
        }
        _ = try store.modelConfig(of: modelSet)
        guard let tokEntry = modelSet.tokenizerEntry else {
            throw PipelineConfigError(description: "model: the model carries no tokenizer (import it with its tokenizer.json or tokenizer.bin)")
        }
        let tokenizer = try store.put(try store.loadTensor(tokEntry).buffer.withUnsafeBytes { Array($0) }, kind: .blob, codec: .auto).id
        func shard(_ spec: DataSpec?, kind: TokenShard.Kind) throws -> ObjectID? {
            guard let spec else { return nil }
            let source: DatasetSource
            switch spec.source {
            case let .synthetic(level, count, split, seed, family): source = .synthetic(seed: seed, level: level, count: count, split: split, family: family)
            case let .file(paths, format):
                // several files are read as one JSONL text, in the order given
                var bytes: [UInt8] = []
                for path in paths {
                    let data: [UInt8]
                    do { data = try InputFile.read(path) } catch {
                        throw config.error(at: "data.\(spec.name).file", "cannot read '\(path)': \(error.reason)")
                    }
                    if let last = bytes.last, last != UInt8(ascii: "\n") { bytes.append(UInt8(ascii: "\n")) }
                    bytes += data
                }
                source = .blob(try store.put(bytes, kind: .blob, codec: .auto).id, format: format)
            }
            let stage = TokenizeStage(tokenizer: tokenizer, source: source, kind: kind, template: config.template, promptStyle: config.promptStyle, limit: spec.limit)
            return try runner.execute(stage).result.id("shard")
        }
        return Inputs(model: modelSet.id!, tokenizer: tokenizer, sft: try shard(config.sft, kind: .sft), rl: try shard(config.rl, kind: .rl),
                      eval: try config.eval.map { ($0.name, try shard($0, kind: .eval)!) })
    }

    /// Runs until the run has `steps` steps (the config's by default); returns the head state.
    @discardableResult
    public func execute(steps target: Int? = nil) throws -> RunState {
        let target = target ?? config.steps
        try preflight()
        let configID = try store.putManifest(configManifest)
        let runner = try StageRunner(store: store, run: run, log: stageLog)
        var headID = try store.readRef(try headRef)
        let inputs = try prepare(runner)
        try point("runs/\(run)/base", at: inputs.model)
        var state: RunState
        if let headID {
            state = try store.runState(headID)
            // A crash after the head moved but before the refs that follow it did leaves them a
            // step behind (found by the crash-state enumeration): bring them up to the head.
            try followHead(state)
            if state.step > 0 { try retain(step: state.step, id: headID) }
        } else {
            var lora: ObjectID? = nil
            if config.method == .bridge {
                lora = try runner.execute(LoRAInitStage(base: inputs.model, config: config.lora, seed: config.seed), step: 0).result.id("lora")
            }
            state = RunState(step: 0, method: config.method, seed: config.seed, theta: inputs.model,
                             thetaHat: config.method == .bridge ? inputs.model : nil, lora: lora,
                             reference: config.method != .sft && config.grpo.beta > 0 ? inputs.model : nil,
                             cursors: ["rl": 0, "sft": 0], config: configID)
            let id = try store.putRunState(state)
            try store.updateRef(try headRef, to: id, expected: .some(nil))
            headID = id
            try followHead(state)
        }
        while state.step < target {
            if pipelineInterrupted { log("interrupted: stopped after step \(state.step); run the same command to continue"); break }
            let next = try iterate(state, inputs: inputs, runner: runner, target: target)
            let id = try store.putRunState(next)
            do { try store.updateRef(try headRef, to: id, expected: .some(headID)) } catch StoreError.refConflict {
                throw PipelineError.concurrentRun(run: run)
            }
            headID = id
            state = next
            try followHead(state)
            try retain(step: state.step, id: id)
            progress(.init(step: state.step, target: target, event: .committed(state)))
        }
        return state
    }

    /// The refs that follow the head.
    func followHead(_ s: RunState) throws {
        try point("runs/\(run)/theta", at: s.theta)
        if let h = s.thetaHat { try point("runs/\(run)/theta_hat", at: h) }
        if let w = s.lora { try point("runs/\(run)/lora", at: w) }
    }

    /// Moves a ref unless it already holds `id` (then nothing is written).
    func point(_ name: String, at id: ObjectID) throws {
        let ref = try RefName(name)
        if try store.readRef(ref) != id { try store.updateRef(ref, to: id) }
    }

    /// refs/runs/R/steps/K for the last `keep_last` steps and every `keep_every`-th.
    func retain(step k: Int, id: ObjectID) throws {
        try point("runs/\(run)/steps/\(k)", at: id)
        let old = k - config.keepLast
        if old >= 1, !(config.keepEvery > 0 && old % config.keepEvery == 0) {
            try store.deleteRef(try RefName("runs/\(run)/steps/\(old)"))
        }
    }

    /// One line for a committed step: step k/N, then the headline metrics.
    public static func summary(_ s: RunState, target: Int) -> String {
        (["step \(s.step)/\(target)"] + headline(s.metrics)).joined(separator: "  ")
    }

    /// reward, SFT loss, KL, cooperative gain and eval accuracies, where the step has them.
    public static func headline(_ m: [String: JSONValue]) -> [String] {
        var parts: [String] = []
        for (k, label, f) in [("reward_mean", "reward", "%.3f"), ("sft_loss", "sft loss", "%.3f"), ("rl_kl", "kl", "%.4f"),
                              ("cooperative_gain", "gain", "%+.2e"), ("cooperative_gain_reward", "gain (reward)", "%+.3f")] {
            if let v = m[k]?.doubleValue { parts.append("\(label) \(String(format: f, v))") }
        }
        for (k, v) in m.sorted(by: { $0.key < $1.key }) where k.hasPrefix("eval/") && k.hasSuffix("/accuracy") {
            parts.append("\(k.dropFirst(5).dropLast(9)) accuracy \(String(format: "%.3f", v.doubleValue ?? 0))")
        }
        return parts
    }

    // MARK: - one iteration per method

    func iterate(_ s: RunState, inputs: Inputs, runner: StageRunner, target: Int) throws -> RunState {
        let k = s.step, c = config
        var next = s
        next.step = k + 1
        next.parent = try store.readRef(try headRef)
        var metrics: [String: JSONValue] = [:]
        func exec<S: Stage>(_ stage: S) throws -> StageResult {
            if pipelineInterrupted { throw PipelineInterrupted() }
            progress(.init(step: k + 1, target: target, event: .stage(S.name)))
            return try runner.execute(stage, step: k + 1).result
        }

        /// rollout → score → ref-logprobs of one policy.
        func rollouts(theta: ObjectID, adapter: ObjectID?, purpose: String, prefix: String) throws -> LowerStepStage.RLInputs {
            let r = try exec(RolloutStage(policy: theta, adapter: adapter, prompts: inputs.rl!, cursor: s.cursors["rl"] ?? 0, batch: c.promptsPerStep,
                                          groupSize: c.numGenerations, maxNewTokens: c.grpo.maxCompletionLength, temperature: Float(c.grpo.temperature),
                                          topP: Float(c.topP), seed: c.seed, purpose: purpose, order: .shuffled, generationBatch: c.generationBatchSize))
            let responses = try r.id("responses")
            var score = ScoreStage(responses: responses, prompts: inputs.rl!, tokenizer: inputs.tokenizer,
                                   advantageEpsilon: c.advantageEpsilon, scaleRewards: c.scaleRewards)
            if c.rewardNoise > 0 {
                score.rewardNoise = c.rewardNoise
                score.noiseSeed = Philox.derive(seed: c.seed, purpose: purpose == "rollout" ? "reward-noise" : "\(purpose)-reward-noise", step: UInt64(k))
            }
            let scored = try exec(score)
            for key in ["reward_mean", "accuracy", "truncated", "response_tokens_mean", "rewards_flipped"] { metrics[prefix + key] = scored.metrics[key] }
            metrics[prefix + "rollout_tokens_per_s"] = r.metrics["tokens_per_s"]
            var ref: ObjectID? = nil
            if c.grpo.beta > 0, let reference = next.reference {
                ref = try exec(RefLogprobsStage(reference: reference, responses: responses, prompts: inputs.rl!, temperature: c.grpo.temperature,
                                                chunk: c.microBatchSize)).id("ref_logprobs")
            }
            return .init(responses: responses, scores: try scored.id("scores"), refLogprobs: ref)
        }

        func lower(theta: ObjectID, lambda: Double, rl: LowerStepStage.RLInputs?, shadowRL: LowerStepStage.RLInputs? = nil,
                   thetaHat: ObjectID? = nil, lora: ObjectID? = nil, sftCursor: Int) throws -> StageResult {
            try exec(LowerStepStage(theta: theta, thetaOptimizer: next.optimizers["theta"], thetaHat: thetaHat, thetaHatOptimizer: thetaHat == nil ? nil : next.optimizers["theta_hat"],
                                    lora: lora, sft: lambda < 1 ? inputs.sft : nil, sftCursor: sftCursor, sftBatch: c.sftBatchSize, seed: c.seed,
                                    prompts: rl == nil ? nil : inputs.rl, rl: rl, shadowRL: shadowRL, lambda: lambda, grpo: c.grpo,
                                    optimizer: c.optimizer, chunk: c.microBatchSize, numIterations: c.numIterations))
        }
        func take(_ r: StageResult, prefix: String = "") throws {
            next.theta = try r.id("theta")
            next.optimizers["theta"] = try r.id("theta_optimizer")
            if r.outputs["theta_hat"] != nil {
                next.thetaHat = try r.id("theta_hat")
                next.optimizers["theta_hat"] = try r.id("theta_hat_optimizer")
            }
            for (key, v) in r.metrics { metrics[prefix + key] = v }
        }
        let sftCursor = s.cursors["sft"] ?? 0, rlCursor = s.cursors["rl"] ?? 0

        switch c.method {
        case .sft:
            try take(try lower(theta: s.theta, lambda: 0, rl: nil, sftCursor: sftCursor))
            next.cursors["sft"] = sftCursor + c.sftBatchSize
        case .rlZero, .naiveMixing:
            let lambda = c.method == .rlZero ? 1 : c.lambda.value(at: k)
            let rl = try rollouts(theta: s.theta, adapter: nil, purpose: "rollout", prefix: "")
            try take(try lower(theta: s.theta, lambda: lambda, rl: rl, sftCursor: sftCursor))
            next.cursors["rl"] = rlCursor + c.promptsPerStep
            if lambda < 1 { next.cursors["sft"] = sftCursor + c.sftBatchSize }
        case .naiveAlternating:
            let rl = try rollouts(theta: s.theta, adapter: nil, purpose: "rollout", prefix: "")
            try take(try lower(theta: s.theta, lambda: 1, rl: rl, sftCursor: sftCursor), prefix: "rl_step/")
            try take(try lower(theta: next.theta, lambda: 0, rl: nil, sftCursor: sftCursor))
            next.cursors["rl"] = rlCursor + c.promptsPerStep
            next.cursors["sft"] = sftCursor + c.sftBatchSize
        case .coldStart:
            if k < c.coldStartSFTSteps {
                try take(try lower(theta: s.theta, lambda: 0, rl: nil, sftCursor: sftCursor))
                next.cursors["sft"] = sftCursor + c.sftBatchSize
            } else {
                if k == c.coldStartSFTSteps {
                    // RL-zero from the SFT checkpoint: a fresh AdamW, π_ref = that checkpoint
                    next.optimizers["theta"] = nil
                    if c.grpo.beta > 0 { next.reference = s.theta }
                }
                let rl = try rollouts(theta: s.theta, adapter: nil, purpose: "rollout", prefix: "")
                try take(try lower(theta: s.theta, lambda: 1, rl: rl, sftCursor: sftCursor))
                next.cursors["rl"] = rlCursor + c.promptsPerStep
            }
        case .bridge:
            let lambda = c.lambda.value(at: k)
            let hat = s.thetaHat ?? s.theta
            let rl = try rollouts(theta: s.theta, adapter: s.lora, purpose: "rollout", prefix: "")
            var shadow: LowerStepStage.RLInputs? = nil
            if c.shadowRollouts == "separate" {
                shadow = try rollouts(theta: hat, adapter: s.lora, purpose: "shadow-rollout", prefix: "shadow/")
                if let a = metrics["reward_mean"]?.doubleValue, let b = metrics["shadow/reward_mean"]?.doubleValue {
                    metrics["cooperative_gain_reward"] = .double(a - b)
                }
            }
            let r = try lower(theta: s.theta, lambda: lambda, rl: rl, shadowRL: shadow, thetaHat: hat, lora: s.lora, sftCursor: sftCursor)
            try take(r)
            let u = try exec(UpperStepStage(lora: s.lora!, loraOptimizer: s.optimizers["lora"], loraGrads: try r.id("lora_grads"), optimizer: c.loraOptimizer))
            next.lora = try u.id("lora")
            next.optimizers["lora"] = try u.id("lora_optimizer")
            for (key, v) in u.metrics { metrics["upper/" + key] = v }
            next.cursors["rl"] = rlCursor + c.promptsPerStep
            if lambda < 1 { next.cursors["sft"] = sftCursor + c.sftBatchSize }
        }

        if c.evalEvery > 0, (k + 1) % c.evalEvery == 0 || k + 1 == c.steps {
            for (name, shard) in inputs.eval {
                let e = try exec(EvalStage(policy: next.theta, adapter: next.lora, prompts: shard, tokenizer: inputs.tokenizer,
                                           maxNewTokens: c.evalMaxNewTokens, generationBatch: c.generationBatchSize))
                metrics["eval/\(name)/accuracy"] = e.metrics["accuracy"]
            }
        }
        // timings stay in the journal: the state holds what the computation determines, so the
        // same file and seed give the same head id
        next.metrics = metrics.filter { !$0.key.hasSuffix("tokens_per_s") && !$0.key.hasSuffix("seconds") }
        return next
    }
}

/// What the runner is doing, for a progress display.
public struct RunProgress: Sendable {
    public enum Event: Sendable {
        /// A stage of step `step` starts (or is found done in the journal).
        case stage(String)
        /// Step `step` is committed: the new head state.
        case committed(RunState)
    }
    public let step: Int
    public let target: Int
    public let event: Event
}

public struct PipelineInterrupted: Error, CustomStringConvertible {
    public var description: String { "interrupted; the run resumes from its last completed step" }
}
