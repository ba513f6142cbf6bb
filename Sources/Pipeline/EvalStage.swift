// The eval stage: a policy (base weights and an optional adapter, separate inputs) answers every
// problem of a prompt shard (`limit`: the first ones), greedily (pass@1, temperature 0) or
// `samples` times with sampling (avg@n: stream i·n + k of the `eval-sample` purpose), in
// generation batches of at most `generationBatch` sequences (not part of the key: the answers do
// not depend on it); the answers are graded against the shard's reference answers by the score
// stage's grader. Outputs: the responses and their scores (correct, extracted answers); metrics:
// accuracy, answered and boxed shares, mean response length, truncation rate.

import Checkpoint
import Foundation
import LanguageModel
import ShardStore
import Tensors
import Training

public struct EvalStage: Stage {
    public static let name = "eval"
    /// 2: an adapter is folded into the decoding weights (other rounding of base + adapter answers).
    public static let version = 2

    public var policy: ObjectID
    public var adapter: ObjectID?
    public var prompts: ObjectID
    public var tokenizer: ObjectID
    public var maxNewTokens: Int
    public var limit: Int?
    /// 0 = greedy.
    public var temperature: Float
    public var topP: Float
    public var samples: Int
    public var seed: UInt64
    public var generationBatch: Int

    public init(policy: ObjectID, adapter: ObjectID? = nil, prompts: ObjectID, tokenizer: ObjectID, maxNewTokens: Int, limit: Int? = nil,
                temperature: Float = 0, topP: Float = 1, samples: Int = 1, seed: UInt64 = 0, generationBatch: Int = 64) {
        self.policy = policy; self.adapter = adapter; self.prompts = prompts; self.tokenizer = tokenizer
        self.maxNewTokens = maxNewTokens; self.limit = limit; self.temperature = temperature; self.topP = topP
        self.samples = samples; self.seed = seed; self.generationBatch = generationBatch
    }

    public var params: JSONValue {
        var p: [String: JSONValue] = ["max_new_tokens": .int(maxNewTokens), "temperature": .double(Double(temperature)), "samples": .int(samples)]
        if let limit { p["limit"] = .int(limit) }
        if temperature > 0 { p["top_p"] = .double(Double(topP)); p["seed"] = .string(String(seed)) }
        return .object(p)
    }

    public var inputs: [String: JSONValue] {
        var i: [String: JSONValue] = ["policy": .string(policy.hex), "prompts": .string(prompts.hex), "tokenizer": .string(tokenizer.hex)]
        if let adapter { i["adapter"] = .string(adapter.hex) }
        return i
    }

    public func validate() throws {
        guard maxNewTokens > 0 else { throw TrainingConfigError.invalid(key: "eval.max_new_tokens", "must be > 0, got \(maxNewTokens)") }
        guard temperature >= 0, temperature.isFinite else { throw TrainingConfigError.invalid(key: "eval.temperature", "must be ≥ 0 (0: greedy), got \(temperature)") }
        guard topP > 0, topP <= 1 else { throw TrainingConfigError.invalid(key: "eval.top_p", "must be in (0, 1], got \(topP)") }
        guard samples >= 1, temperature > 0 || samples == 1 else {
            throw TrainingConfigError.invalid(key: "eval.samples", "must be 1 for greedy decoding, ≥ 1 with sampling; got \(samples)")
        }
        guard limit.map({ $0 > 0 }) ?? true else { throw TrainingConfigError.invalid(key: "eval.limit", "must be > 0") }
        guard generationBatch > 0 else { throw TrainingConfigError.invalid(key: "eval.batch_size", "must be > 0") }
    }

    public func run(in store: Store) throws -> StageResult {
        try validate()
        let shard = try TokenShard.load(from: store, id: prompts)
        guard shard.kind != .sft else { throw PipelineError.invalidInput("shard \(prompts.hex.prefix(12)) holds SFT examples, not problems (tokenize with --kind eval)") }
        let loaded = try store.loadModel(try store.tensorSet(policy), adapter: try adapter.map { try store.tensorSet($0) })
        let n = min(limit ?? shard.count, shard.count)
        let context = loaded.model.config.maxPositionEmbeddings
        if let i = (0..<n).first(where: { shard.promptLengths[$0] + maxNewTokens > context }) {
            throw PipelineError.invalidInput("problem \(shard.recordIDs[i]): \(shard.promptLengths[i]) prompt tokens + max_new_tokens \(maxNewTokens) exceed the context length \(context)")
        }
        var rows: [Int] = [], streams: [UInt64] = []
        for i in 0..<n { for k in 0..<samples { rows.append(i); streams.append(UInt64(i * samples + k)) } }
        let sampling = SamplingOptions(temperature: temperature, topP: topP, seed: Philox.derive(seed: seed, purpose: "eval-sample"))
        let stops = try RolloutStage.stopTokens(model: loaded.model, shard: shard, store: store)
        let start = Date()
        let (ids, logprobs) = try RolloutStage.generate(model: loaded.model, adapter: loaded.adapter, prompts: rows.map { Array(shard.prompt($0)) },
                                                        streams: streams, sampling: sampling, stops: stops, maxNewTokens: maxNewTokens,
                                                        generationBatch: generationBatch, groupSize: samples)
        let seconds = Date().timeIntervalSince(start)
        let responses = Responses(tokens: ids, promptIndex: rows, finished: ids.map { $0.last.map(stops.contains) ?? false },
                                  logprobs: logprobs, groupSize: samples, prompts: prompts)
        let responsesID = try responses.store(in: store)
        let scored = try ScoreStage(responses: responsesID, prompts: prompts, tokenizer: tokenizer).run(in: store)
        var metrics = scored.metrics
        for k in ["groups", "groups_all_correct", "groups_none_correct", "groups_mixed"] where samples == 1 { metrics.removeValue(forKey: k) }
        metrics["problems"] = .int(n)
        metrics["tokens_per_s"] = .double(Double(ids.reduce(0) { $0 + $1.count }) / max(seconds, 1e-9))
        return StageResult(outputs: ["responses": .string(responsesID.hex), "scores": scored.outputs["scores"]!], metrics: metrics)
    }
}
