// The training stages (DESIGN.md §3, ALGORITHM.md): `lora-init` (a fresh adapter for a base),
// `ref-logprobs` (π_ref's per-token log-probs of responses), `lower-step` (θ, and θ̂ in BRIDGE:
// gradients at the old iterates, one AdamW step each, and the adapter's gradient) and
// `upper-step` (w and its AdamW state from that gradient). Every method is a configuration of the
// same two steps (Training/Bridge/Methods.swift). Outputs carry no role names, step numbers or
// parents in their metadata, so θ and θ̂ holding the same bytes are the same object.

import Checkpoint
import Foundation
import LanguageModel
import ShardStore
import Tensors
import Training

// MARK: - configuration as canonical JSON

extension GRPOConfig {
    public var json: JSONValue {
        var o: [String: JSONValue] = ["beta": .double(beta), "epsilon": .double(epsilon), "loss_type": .string(lossType.rawValue),
                                      "temperature": .double(temperature), "max_completion_length": .int(maxCompletionLength)]
        if let epsilonHigh { o["epsilon_high"] = .double(epsilonHigh) }
        return .object(o)
    }
}

extension AdamWConfig {
    /// Names as in transformers' TrainingArguments.
    public var json: JSONValue {
        ["learning_rate": .double(Double(lr)), "adam_beta1": .double(Double(beta1)), "adam_beta2": .double(Double(beta2)),
         "adam_epsilon": .double(Double(eps)), "weight_decay": .double(Double(weightDecay)), "max_grad_norm": .double(Double(clip ?? 0))]
    }

    /// Errors name the key under `key`.
    public func validate(key: String) throws(TrainingConfigError) {
        guard lr >= 0, lr.isFinite else { throw .invalid(key: key + ".learning_rate", "must be ≥ 0, got \(lr)") }
        guard weightDecay >= 0 else { throw .invalid(key: key + ".weight_decay", "must be ≥ 0, got \(weightDecay)") }
        guard (clip ?? 0) >= 0 else { throw .invalid(key: key + ".max_grad_norm", "must be ≥ 0 (0: no clipping)") }
        guard beta1 >= 0, beta1 < 1, beta2 >= 0, beta2 < 1 else { throw .invalid(key: key + ".adam_beta1", "betas must be in [0, 1)") }
    }
}

extension Store {
    /// Loads an AdamW state set, or a fresh one (step 0, zero moments) when `id` is nil.
    func optimizer(_ id: ObjectID?, config: AdamWConfig, entries: [ParameterLayout.Entry], count: Int) throws -> AdamW {
        guard let id else { return AdamW(config: config, count: count) }
        let s = try loadOptimizerState(try tensorSet(id), entries: entries)
        guard s.m.count == count else { throw PipelineError.invalidInput("optimizer state \(id.hex.prefix(12)) does not fit the model") }
        return AdamW(config: config, m: s.m, v: s.v, step: s.step)
    }

    /// `deltaBase`: the state this one continues (a delta base hint for the store).
    func putOptimizer(_ o: AdamW, entries: [ParameterLayout.Entry], deltaBase: ObjectID? = nil) throws -> ObjectID {
        try putOptimizerState(m: o.m, v: o.v, step: o.step, entries: entries, deltaBase: try deltaBase.map(tensorSet)).id!
    }
}

// MARK: - lora-init

/// A fresh adapter for a base model: A from the `lora-init` stream of `seed`, B = 0.
public struct LoRAInitStage: Stage {
    public static let name = "lora-init"
    public static let version = 1

    public var base: ObjectID
    public var config: LoRAConfig
    public var seed: UInt64

    public init(base: ObjectID, config: LoRAConfig, seed: UInt64) {
        self.base = base
        self.config = config
        self.seed = seed
    }

    public var params: JSONValue { ["lora": config.json, "seed": .string(String(seed))] }
    public var inputs: [String: JSONValue] { ["base": .string(base.hex)] }

    public func run(in store: Store) throws -> StageResult {
        let set = try store.createAdapter(for: try store.tensorSet(base), config: config, seed: seed)
        return StageResult(outputs: ["lora": .string(set.id!.hex)], metrics: ["parameters": .int(set.elementCount)])
    }
}

// MARK: - ref-logprobs

/// Per-token log-probs of every response token under a reference policy at the sampling
/// temperature. Output: {"logprobs": f32 [T]} aligned with the responses' response_ids.
public struct RefLogprobsStage: Stage {
    public static let name = "ref-logprobs"
    /// 2: sequences run shortest first, each chunk padded to its own longest (other rounding).
    public static let version = 2

    public var reference: ObjectID
    public var responses: ObjectID
    public var prompts: ObjectID
    public var temperature: Double
    public var chunk: Int

    public init(reference: ObjectID, responses: ObjectID, prompts: ObjectID, temperature: Double, chunk: Int = 8) {
        self.reference = reference
        self.responses = responses
        self.prompts = prompts
        self.temperature = temperature
        self.chunk = chunk
    }

    public var params: JSONValue { ["temperature": .double(temperature), "chunk": .int(chunk)] }
    public var inputs: [String: JSONValue] {
        ["reference": .string(reference.hex), "responses": .string(responses.hex), "prompts": .string(prompts.hex)]
    }

    public func run(in store: Store) throws -> StageResult {
        guard temperature > 0, temperature.isFinite else { throw TrainingConfigError.invalid(key: "rl.temperature", "must be > 0, got \(temperature)") }
        let batch = try RLData.completions(store: store, responses: responses, prompts: prompts).batch
        let model = try store.loadModel(try store.tensorSet(reference)).model
        let start = Date()
        let logps = try PolicyGradient.logProbs(model: model, batch: batch, temperature: temperature, chunk: chunk)
        let set = try store.putTensorSet([try store.putTensor(name: "logprobs", Tensor(values: logps.flatMap { $0 }, dtype: .f32))],
                                         metadata: ["format": "bridge-logprobs"])
        let tokens = batch.completionTokens
        return StageResult(outputs: ["ref_logprobs": .string(set.hex)],
                           metrics: ["tokens": .int(tokens), "tokens_per_s": .double(Double(tokens) / max(Date().timeIntervalSince(start), 1e-9))])
    }
}

/// Turning stored prompts, responses, scores and log-probs into the RL side of a pass.
public enum RLData {
    /// prompt ++ response of every response, checking that the responses answer this prompt shard.
    static func completions(store: Store, responses: ObjectID, prompts: ObjectID) throws -> (batch: CompletionBatch, responses: Responses) {
        let (r, shard) = try Responses.load(from: store, id: responses, answering: prompts)
        return (CompletionBatch(prompts: r.promptIndex.map { Array(shard.prompt($0)) }, completions: r.tokens), r)
    }

    /// Per-token log-probs stored by ref-logprobs, cut like the responses.
    static func logprobs(store: Store, id: ObjectID, like r: Responses) throws -> [[Float]] {
        let set = try store.tensorSet(id)
        guard set.metadata["format"]?.stringValue == "bridge-logprobs" else { throw PipelineError.invalidInput("object \(id.hex.prefix(12)) is not a log-probs set") }
        let flat: [Float] = try store.requiredColumn(set, "logprobs", .f32)
        guard let parts = split(flat, by: ragged(r.tokens).1) else {
            throw PipelineError.invalidInput("log-probs \(id.hex.prefix(12)) hold \(flat.count) values; the responses have \(r.tokens.reduce(0) { $0 + $1.count }) tokens")
        }
        return parts.map(Array.init)
    }
}

// MARK: - lower-step

/// The lower step of any method: θ (and θ̂ with an adapter) one AdamW step each from gradients
/// at the old iterates; with an adapter, the upper step's gradient Gw as a tensor set.
public struct LowerStepStage: Stage {
    public static let name = "lower-step"
    /// 2: sequences run shortest first, each chunk padded to its own longest, and logits only for
    /// rows with a loss (other rounding of the same gradients).
    public static let version = 2

    /// One rollout's data for an RL pass.
    public struct RLInputs: Sendable, Equatable {
        public var responses: ObjectID
        public var scores: ObjectID
        public var refLogprobs: ObjectID?
        public init(responses: ObjectID, scores: ObjectID, refLogprobs: ObjectID? = nil) {
            self.responses = responses
            self.scores = scores
            self.refLogprobs = refLogprobs
        }
        var json: JSONValue {
            var o: [String: JSONValue] = ["responses": .string(responses.hex), "scores": .string(scores.hex)]
            if let refLogprobs { o["ref_logprobs"] = .string(refLogprobs.hex) }
            return .object(o)
        }
    }

    public var theta: ObjectID
    public var thetaOptimizer: ObjectID?
    public var thetaHat: ObjectID?
    public var thetaHatOptimizer: ObjectID?
    public var lora: ObjectID?
    /// SFT shard and the batch at positions sftCursor ..< sftCursor+sftBatch of its `sft-order`.
    public var sft: ObjectID?
    public var sftCursor: Int
    public var sftBatch: Int
    public var seed: UInt64
    public var prompts: ObjectID?
    public var rl: RLInputs?
    /// Separate rollouts from θ̂ + w; nil with θ̂: the θ pass's (shared).
    public var shadowRL: RLInputs?
    public var lambda: Double
    public var grpo: GRPOConfig
    public var optimizer: AdamWConfig
    public var chunk: Int
    /// TRL's num_iterations: optimizer steps on this batch. 1: ρ ≡ 1; more: π_old is each base's
    /// policy before the first, from the training forward, and ratios clip. Gw is taken at the
    /// old iterates (the first inner step), as Algorithm 2 evaluates every gradient.
    public var numIterations: Int

    public init(theta: ObjectID, thetaOptimizer: ObjectID? = nil, thetaHat: ObjectID? = nil, thetaHatOptimizer: ObjectID? = nil,
                lora: ObjectID? = nil, sft: ObjectID? = nil, sftCursor: Int = 0, sftBatch: Int = 0, seed: UInt64 = 0,
                prompts: ObjectID? = nil, rl: RLInputs? = nil, shadowRL: RLInputs? = nil, lambda: Double,
                grpo: GRPOConfig, optimizer: AdamWConfig, chunk: Int = 8, numIterations: Int = 1) {
        self.numIterations = numIterations
        self.theta = theta; self.thetaOptimizer = thetaOptimizer; self.thetaHat = thetaHat; self.thetaHatOptimizer = thetaHatOptimizer
        self.lora = lora; self.sft = sft; self.sftCursor = sftCursor; self.sftBatch = sftBatch; self.seed = seed
        self.prompts = prompts; self.rl = rl; self.shadowRL = shadowRL; self.lambda = lambda
        self.grpo = grpo; self.optimizer = optimizer; self.chunk = chunk
    }

    public var params: JSONValue {
        var p: [String: JSONValue] = ["lambda": .double(lambda), "optimizer": optimizer.json, "chunk": .int(chunk)]
        if numIterations != 1 { p["num_iterations"] = .int(numIterations) }
        if lambda > 0 { p["rl"] = grpo.json }
        if sft != nil, lambda < 1 { p["sft"] = ["cursor": .int(sftCursor), "batch": .int(sftBatch), "seed": .string(String(seed))] }
        return .object(p)
    }

    public var inputs: [String: JSONValue] {
        var i: [String: JSONValue] = ["theta": .string(theta.hex)]
        func put(_ k: String, _ id: ObjectID?) { if let id { i[k] = .string(id.hex) } }
        put("theta_optimizer", thetaOptimizer); put("theta_hat", thetaHat); put("theta_hat_optimizer", thetaHatOptimizer); put("lora", lora)
        if lambda < 1 { put("sft", sft) }
        if lambda > 0 || thetaHat != nil {
            put("prompts", prompts)
            if let rl { i["rl"] = rl.json }
            if let shadowRL { i["shadow_rl"] = shadowRL.json }
        }
        return i
    }

    /// Configuration errors, before any work; each names its key.
    public func validate() throws {
        guard lambda >= 0, lambda <= 1, lambda.isFinite else { throw TrainingConfigError.invalid(key: "bridge.lambda", "λ must be in [0, 1], got \(lambda)") }
        try optimizer.validate(key: "train")
        if lambda < 1 {
            guard sft != nil else { throw TrainingConfigError.invalid(key: "data.sft", "λ = \(lambda) < 1 needs an SFT shard") }
            guard sftBatch > 0, sftCursor >= 0 else { throw TrainingConfigError.invalid(key: "train.sft_batch_size", "must be > 0, got \(sftBatch)") }
        }
        if lambda > 0 || thetaHat != nil {
            try grpo.validate()
            guard prompts != nil, let rl else { throw TrainingConfigError.invalid(key: "data.rl", "λ = \(lambda) > 0 needs prompts, responses and scores") }
            for (what, part) in [("rl", Optional(rl)), ("shadow_rl", shadowRL)] {
                guard let part else { continue }
                if grpo.beta > 0, part.refLogprobs == nil {
                    throw TrainingConfigError.invalid(key: "rl.beta", "β = \(grpo.beta) > 0 needs reference log-probs for \(what) (the ref-logprobs stage), or set rl.beta: 0")
                }
            }
        }
        if thetaHat != nil, lora == nil { throw TrainingConfigError.invalid(key: "method", "the shadow θ̂ exists only with an adapter (method: bridge)") }
        if shadowRL != nil, thetaHat == nil { throw TrainingConfigError.invalid(key: "bridge.shadow_rollouts", "separate shadow rollouts need θ̂") }
        if thetaHatOptimizer != nil, thetaHat == nil { throw TrainingConfigError.invalid(key: "theta_hat_optimizer", "given without θ̂") }
        guard chunk > 0 else { throw TrainingConfigError.invalid(key: "train.micro_batch_size", "must be > 0") }
        guard numIterations >= 1 else { throw TrainingConfigError.invalid(key: "rl.num_iterations", "must be ≥ 1, got \(numIterations)") }
    }

    func rlBatch(_ part: RLInputs, store: Store) throws -> RLBatch {
        let (batch, r) = try RLData.completions(store: store, responses: part.responses, prompts: prompts!)
        guard r.groupSize >= 2 else {
            throw TrainingConfigError.invalid(key: "rl.num_generations", "GRPO needs ≥ 2 responses per prompt, responses \(part.responses.hex.prefix(12)) have \(r.groupSize)")
        }
        let scores = try ScoreStage.loadScores(from: store, id: part.scores)
        guard scores.responses == part.responses, scores.advantages.count == r.count else {
            throw PipelineError.invalidInput("scores \(part.scores.hex.prefix(12)) do not score responses \(part.responses.hex.prefix(12))")
        }
        let ref = try part.refLogprobs.map { try RLData.logprobs(store: store, id: $0, like: r) }
        return RLBatch(batch: batch, advantages: scores.advantages, refLogps: ref)
    }

    public func run(in store: Store) throws -> StageResult {
        try validate()
        let start = Date()
        let thetaSet = try store.tensorSet(theta)
        var thetaModel: Transformer? = try {
            let loaded = try store.loadModel(thetaSet)
            guard loaded.adapter == nil else { throw PipelineError.invalidInput("θ \(theta.hex.prefix(12)) carries an adapter; give the base and the adapter apart") }
            return loaded.model
        }()
        let config = thetaModel!.config, layout = thetaModel!.layout
        let adapter = try lora.map { try store.loadAdapter(try store.tensorSet($0), for: config, baseName: "θ \(theta.hex.prefix(12))") }
        // every input is checked before any work; the optimizer states and θ̂ are read only when
        // their side runs
        let shadowIsTheta = thetaHat == theta && thetaHatOptimizer == thetaOptimizer
        let hatSet = try thetaHat.map { $0 == theta ? thetaSet : try store.tensorSet($0) }
        if let hatSet, let thetaHat, thetaHat != theta {
            guard try store.modelConfig(of: hatSet) == config, hatSet.metadata[ModelMetadata.lora] == nil else {
                throw PipelineError.invalidInput("θ̂ \(thetaHat.hex.prefix(12)) is another architecture than θ")
            }
        }
        for id in [thetaOptimizer, thetaHatOptimizer].compactMap({ $0 }) {
            try store.checkOptimizerState(try store.tensorSet(id), entries: layout.entries)
        }

        var data = LowerStepData()
        var metrics: [String: JSONValue] = ["lambda": .double(lambda)]
        if lambda < 1, let sft {
            let shard = try TokenShard.load(from: store, id: sft)
            guard shard.kind == .sft else { throw PipelineError.invalidInput("shard \(sft.hex.prefix(12)) holds \(shard.kind.rawValue) prompts, not SFT examples") }
            let rows = EpochOrder(count: shard.count, seed: seed, purpose: "sft-order").items(sftCursor..<(sftCursor + sftBatch))
            data.sft = CompletionBatch(prompts: rows.map { Array(shard.prompt($0)) }, completions: rows.map { Array(shard.target($0)) })
        }
        // rewards and response lengths are the score stage's metrics
        if lambda > 0 || thetaHat != nil, let rl {
            data.rl = try rlBatch(rl, store: store)
            data.shadowRL = try shadowRL.map { try rlBatch($0, store: store) }
        }
        if numIterations > 1, let rl = data.rl {
            // π_old: each base's policy (with w) before the first inner step; θ̂'s is its own pass
            // below unless it holds θ's bytes on the shared rollouts
            data.rl!.oldLogps = try PolicyGradient.logProbs(model: thetaModel!, lora: adapter, batch: rl.batch, temperature: grpo.temperature, chunk: chunk)
            if thetaHat != nil, shadowIsTheta, data.shadowRL == nil { data.shadowRL = data.rl }
        }
        let loraGrads = adapter.map { FloatBuffer(count: $0.layout.totalCount) }
        var report = LowerStepReport(lambda: lambda)
        var outputs: [String: JSONValue] = [:]

        /// One base's inner steps on this batch: `gradient(inner)` then AdamW, the state read once
        /// the first gradient is in memory. Returns the state and the first step's figures.
        func steps(_ model: Transformer, optimizer id: ObjectID?, gradient: (Int) throws -> FloatBuffer) throws -> (AdamW, AdamW.StepInfo) {
            var state: AdamW? = nil, first: AdamW.StepInfo? = nil
            for inner in 0..<numIterations {
                try StepProfile.measure("lower-step: passes + AdamW") {
                    let g = try gradient(inner)
                    if state == nil { state = try store.optimizer(id, config: optimizer, entries: layout.entries, count: layout.totalCount) }
                    let info = state!.update(params: model.params, grads: g)
                    if inner == 0 { first = info }
                }
            }
            return (state!, first!)
        }

        // θ's side, stored and released before θ̂ is read: one base, its gradient and its AdamW
        // moments in memory at a time
        var sharedGradient: FloatBuffer? = nil
        do {
            let model = thetaModel!
            thetaModel = nil
            let (state, info) = try steps(model, optimizer: thetaOptimizer) { inner in
                var r = LowerStepReport(lambda: lambda)
                let (g, shared) = try LowerStep.thetaGradients(model: model, lora: adapter, loraGrads: inner == 0 ? loraGrads : nil, data: data,
                                                               lambda: lambda, config: grpo, servesShadow: inner == 0 && shadowIsTheta,
                                                               chunk: chunk, report: &r)
                if inner == 0 { (report, sharedGradient) = (r, shared) } else { report.passes += r.passes }
                return g
            }
            report.theta = info
            try StepProfile.measure("lower-step: store outputs") {
                // delta base hints: θ′ against θ, each optimizer state against its input
                outputs["theta"] = .string(try store.putModel(params: model.params, layout: layout, like: thetaSet, recordParent: false,
                                                              deltaBase: thetaSet).id!.hex)
                outputs["theta_optimizer"] = .string(try store.putOptimizer(state, entries: layout.entries, deltaBase: thetaOptimizer).hex)
            }
        }
        // θ̂'s side
        if let hatSet, let adapter {
            // θ̂ holding θ's bytes is θ as read (θ's buffer was updated in place)
            let model = try store.loadModel(hatSet).model
            if numIterations > 1, data.shadowRL?.oldLogps == nil, let hatRL = data.shadowRL ?? data.rl {
                var withOld = hatRL
                withOld.oldLogps = try PolicyGradient.logProbs(model: model, lora: adapter, batch: hatRL.batch, temperature: grpo.temperature, chunk: chunk)
                data.shadowRL = withOld
            }
            let (state, info) = try steps(model, optimizer: thetaHatOptimizer) { inner in
                if inner == 0 {
                    return try sharedGradient ?? LowerStep.shadowGradients(model: model, lora: adapter, loraGrads: loraGrads, data: data, lambda: lambda,
                                                                           config: grpo, chunk: chunk, report: &report)
                }
                var r = LowerStepReport(lambda: lambda)
                let g = try LowerStep.shadowGradients(model: model, lora: adapter, loraGrads: nil, data: data, lambda: lambda, config: grpo,
                                                      chunk: chunk, report: &r)
                report.passes += r.passes
                return g
            }
            sharedGradient = nil
            report.thetaHat = info
            try StepProfile.measure("lower-step: store outputs") {
                // θ̂′ against θ̂ (against θ′ it saved < 1% on the quickstart: the two drift apart)
                outputs["theta_hat"] = .string(try store.putModel(params: model.params, layout: layout, like: thetaSet, recordParent: false,
                                                                  deltaBase: hatSet).id!.hex)
                outputs["theta_hat_optimizer"] = .string(try store.putOptimizer(state, entries: layout.entries,
                                                                                deltaBase: thetaHatOptimizer ?? thetaOptimizer).hex)
            }
        }
        if let adapter, let loraGrads {
            report.loraGradNorm = AdamW.globalNorm(loraGrads)
            try StepProfile.measure("lower-step: store outputs") {
                let items = adapter.layout.tensors(of: loraGrads).map { (name: $0.0, tensor: $0.1) }
                let id = try store.putTensorSet(try store.putTensors(items), metadata: ["format": "bridge-lora-gradients", ModelMetadata.lora: adapter.config.json])
                outputs["lora_grads"] = .string(id.hex)
            }
        }

        // metrics
        if let l = report.sftLoss { metrics["sft_loss"] = .double(l); metrics["sft_tokens"] = .int(report.sftTokens) }
        func put(_ prefix: String, _ t: GRPOTerms?) {
            guard let t else { return }
            metrics[prefix + "loss"] = .double(t.loss); metrics[prefix + "kl"] = .double(t.meanKL)
            metrics[prefix + "clip_low"] = .double(t.clipLow); metrics[prefix + "clip_high"] = .double(t.clipHigh)
            metrics[prefix + "neg_logp"] = .double(t.meanNegLogProb); metrics[prefix + "tokens"] = .int(t.tokens)
        }
        put("rl_", report.rl)
        if data.shadowRL != nil || !report.sharedRLPass { put("shadow_rl_", report.shadowRL) }
        if let s = report.theta { metrics["grad_norm_theta"] = .double(s.gradNorm); metrics["lr"] = .double(Double(s.lr)) }
        if let s = report.thetaHat { metrics["grad_norm_theta_hat"] = .double(s.gradNorm) }
        if let n = report.loraGradNorm { metrics["grad_norm_lora"] = .double(n) }
        if let n = report.gainGradNorm { metrics["gain_grad_norm"] = .double(n) }
        if let g = report.cooperativeGain { metrics["cooperative_gain"] = .double(g) }
        metrics["passes"] = .int(report.passes)
        if numIterations > 1 { metrics["inner_steps"] = .int(numIterations) }
        metrics["shared_rl_pass"] = .bool(report.sharedRLPass)
        let rlTokens: Int = report.rl?.tokens ?? 0
        let shadowTokens: Int = report.sharedRLPass ? 0 : (report.shadowRL?.tokens ?? 0)
        let tokens = report.sftTokens + rlTokens + shadowTokens
        metrics["tokens_per_s"] = .double(Double(tokens) / max(Date().timeIntervalSince(start), 1e-9))
        return StageResult(outputs: outputs, metrics: metrics)
    }
}

// MARK: - upper-step

/// w′ and its AdamW state from the lower step's Gw (clipped to the optimizer's max_grad_norm).
public struct UpperStepStage: Stage {
    public static let name = "upper-step"
    public static let version = 1

    public var lora: ObjectID
    public var loraOptimizer: ObjectID?
    public var loraGrads: ObjectID
    public var optimizer: AdamWConfig

    public init(lora: ObjectID, loraOptimizer: ObjectID? = nil, loraGrads: ObjectID, optimizer: AdamWConfig) {
        self.lora = lora
        self.loraOptimizer = loraOptimizer
        self.loraGrads = loraGrads
        self.optimizer = optimizer
    }

    public var params: JSONValue { ["optimizer": optimizer.json] }
    public var inputs: [String: JSONValue] {
        var i: [String: JSONValue] = ["lora": .string(lora.hex), "lora_grads": .string(loraGrads.hex)]
        if let loraOptimizer { i["lora_optimizer"] = .string(loraOptimizer.hex) }
        return i
    }

    public func run(in store: Store) throws -> StageResult {
        try optimizer.validate(key: "bridge.lora_optimizer")
        let set = try store.tensorSet(lora)
        let adapter = try store.loadAdapter(set)
        let gradSet = try store.tensorSet(loraGrads)
        guard gradSet.metadata["format"]?.stringValue == "bridge-lora-gradients" else {
            throw PipelineError.invalidInput("object \(loraGrads.hex.prefix(12)) is not a LoRA gradient set (the lower step's lora_grads)")
        }
        let grads: FloatBuffer
        do { grads = try adapter.layout.assemble(try store.loadTensors(gradSet)) } catch let e as ModelError {
            throw ModelCheckpointError.model(e, context: "LoRA gradients \(loraGrads.hex.prefix(12))")
        }
        let entries = adapter.layout.entries
        let opt = try store.optimizer(loraOptimizer, config: optimizer, entries: entries, count: adapter.layout.totalCount)
        let before = adapter.params.clone()
        let info = opt.update(params: adapter.params, grads: grads)
        var diff = 0.0
        for i in 0..<before.count { let d = Double(adapter.params[i] - before[i]); diff += d * d }
        let newSet = try store.putAdapter(adapter, baseConfig: set.metadata[AdapterMetadata.baseConfig]!, deltaBase: set)
        return StageResult(outputs: ["lora": .string(newSet.id!.hex), "lora_optimizer": .string(try store.putOptimizer(opt, entries: entries, deltaBase: loraOptimizer).hex)],
                           metrics: ["grad_norm_lora": .double(info.gradNorm), "lr_lora": .double(Double(info.lr)),
                                     "update_norm_lora": .double(diff.squareRoot()), "step": .int(opt.step)])
    }
}
