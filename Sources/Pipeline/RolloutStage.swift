// The rollout stage: a policy — base weights (θ or θ̂) and an optional adapter w, separate inputs
// — and a prompt shard (rl or eval) → G sampled responses to each of `batch` prompts at positions
// cursor ..< cursor+batch, with each token's log-probability under the sampling policy (log
// softmax of logits / temperature, before any top-p cut). Positions run through the shard in
// order (`sequential`, wrapping around) or through a fresh Philox permutation per epoch keyed by
// (seed, `rl-order`, epoch) (`shuffled`), so step k's prompts are a function of (seed, k).
// Response k of position p draws from Philox(derive(seed, purpose), stream p·G + k); purposes
// `rollout`, `shadow-rollout`, `eval-sample` are distinct streams. The same parameters write the
// same bytes whatever the thread count or the generation batch (sequences decoded together, which
// bounds the KV cache; not part of the key). A response ends at a stop token (the model's eos ids
// and the shard's template end-of-turn or end-of-sequence token) or at `maxNewTokens`.

import Checkpoint
import Foundation
import LanguageModel
import ShardStore
import Tensors
import Tokenizers

public struct RolloutStage: Stage {
    public static let name = "rollout"
    /// 3: an adapter is folded into the decoding weights (other rounding of base + adapter samples).
    public static let version = 3

    public enum Order: String, Sendable, CaseIterable { case sequential, shuffled }

    public var policy: ObjectID
    public var adapter: ObjectID?
    public var prompts: ObjectID
    public var cursor: Int
    public var batch: Int
    public var groupSize: Int
    public var maxNewTokens: Int
    public var temperature: Float
    public var topP: Float
    public var seed: UInt64
    public var purpose: String
    public var order: Order
    /// Sequences decoded together (whole groups; at least one group).
    public var generationBatch: Int

    public init(policy: ObjectID, adapter: ObjectID? = nil, prompts: ObjectID, cursor: Int, batch: Int, groupSize: Int, maxNewTokens: Int,
                temperature: Float = 1, topP: Float = 1, seed: UInt64 = 0, purpose: String = "rollout", order: Order = .sequential,
                generationBatch: Int = 64) {
        self.policy = policy
        self.adapter = adapter
        self.purpose = purpose
        self.order = order
        self.generationBatch = generationBatch
        self.prompts = prompts
        self.cursor = cursor
        self.batch = batch
        self.groupSize = groupSize
        self.maxNewTokens = maxNewTokens
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
    }

    public var params: JSONValue {
        ["cursor": .int(cursor), "batch": .int(batch), "group_size": .int(groupSize), "max_new_tokens": .int(maxNewTokens),
         "temperature": .double(Double(temperature)), "top_p": .double(Double(topP)), "seed": .string(String(seed)),
         "purpose": .string(purpose), "order": .string(order.rawValue)]
    }

    public var inputs: [String: JSONValue] {
        var i: [String: JSONValue] = ["policy": .string(policy.hex), "prompts": .string(prompts.hex)]
        if let adapter { i["adapter"] = .string(adapter.hex) }
        return i
    }

    /// Shard rows of the prompts at positions cursor ..< cursor+batch, and their sampler streams.
    public static func selection(cursor: Int, batch: Int, groupSize: Int, shardCount: Int, order: Order = .sequential,
                                 seed: UInt64 = 0) -> (rows: [Int], streams: [UInt64]) {
        let items = EpochOrder(count: shardCount, seed: seed, purpose: "rl-order", shuffle: order == .shuffled).items(cursor..<(cursor + batch))
        var rows: [Int] = [], streams: [UInt64] = []
        for (i, item) in items.enumerated() {
            for k in 0..<groupSize {
                rows.append(item)
                streams.append(UInt64(cursor + i) * UInt64(groupSize) + UInt64(k))
            }
        }
        return (rows, streams)
    }

    public func run(in store: Store) throws -> StageResult {
        func bad(_ why: String) -> PipelineError { .invalidInput("rollout: \(why)") }
        guard cursor >= 0, batch > 0, groupSize > 0, maxNewTokens > 0, generationBatch > 0 else {
            throw bad("needs cursor ≥ 0 and batch, group size, max new tokens, generation batch > 0")
        }
        guard temperature > 0, temperature.isFinite, topP > 0, topP <= 1 else { throw bad("needs temperature > 0 and top-p in (0, 1]") }
        let shard = try TokenShard.load(from: store, id: prompts)
        guard shard.kind != .sft else { throw bad("shard \(prompts.hex.prefix(12)) holds SFT examples, not prompts (tokenize with --kind rl or eval)") }
        let loaded = try StepProfile.measure("rollout: load model") {
            try store.loadModel(try store.tensorSet(policy), adapter: try adapter.map { try store.tensorSet($0) })
        }
        let model = loaded.model

        let stops = try Self.stopTokens(model: model, shard: shard, store: store)
        let (rows, streams) = Self.selection(cursor: cursor, batch: batch, groupSize: groupSize, shardCount: shard.count, order: order, seed: seed)
        let promptTokens = rows.map { Array(shard.prompt($0)) }
        let sampling = SamplingOptions(temperature: temperature, topP: topP, seed: Philox.derive(seed: seed, purpose: purpose))
        let start = Date()
        let (ids, logprobs) = try StepProfile.measure("rollout: generate") {
            try Self.generate(model: model, adapter: loaded.adapter, prompts: promptTokens, streams: streams, sampling: sampling,
                              stops: stops, maxNewTokens: maxNewTokens, generationBatch: generationBatch, groupSize: groupSize)
        }
        let generateSeconds = Date().timeIntervalSince(start)
        let finished = ids.map { $0.last.map(stops.contains) ?? false }
        let responses = Responses(tokens: ids, promptIndex: rows, finished: finished, logprobs: logprobs,
                                  groupSize: groupSize, prompts: prompts)
        let id = try StepProfile.measure("rollout: store responses") { try responses.store(in: store) }
        let lengths = ids.map(\.count)
        let tokens = lengths.reduce(0, +)
        return StageResult(outputs: ["responses": .string(id.hex)], metrics: [
            "responses": .int(responses.count), "tokens": .int(tokens),
            "response_tokens_mean": .double(Double(tokens) / Double(responses.count)),
            "response_tokens_max": .int(lengths.max() ?? 0),
            "finished": .double(Double(finished.filter { $0 }.count) / Double(responses.count)),
            "next_cursor": .int(cursor + batch),
            "tokens_per_s": .double(Double(tokens) / max(generateSeconds, 1e-9)),
        ])
    }

    /// The model's eos ids, the raw template's end-of-sequence id (in the shard's metadata) and a
    /// chat template's end-of-turn id (through the shard's tokenizer).
    static func stopTokens(model: Transformer, shard: TokenShard, store: Store) throws -> Set<Int32> {
        var stops = Set(model.config.eosTokenIds.map(Int32.init))
        if let eos = shard.metadata["eos"]?.intValue { stops.insert(Int32(eos)) }
        if let t = shard.metadata["tokenizer"]?.stringValue.flatMap(ObjectID.init(hex:)),
           let name = shard.metadata["template"]?.stringValue, let template = try? ChatTemplate(name: name), template != .raw {
            let tok = try TokenizerLoader.load(bytes: try store.read(t).array, name: "tokenizer \(t.hex.prefix(12))")
            stops.formUnion(TokenizeStage.stopTokens(tok, template: template))
        }
        return stops
    }

    /// Generates in chunks of whole groups of at most `generationBatch` sequences (the KV cache of
    /// one chunk at a time); a sequence's tokens do not depend on the others, so the chunking
    /// changes nothing in the output.
    static func generate(model: Transformer, adapter: LoRAAdapter?, prompts: [[Int32]], streams: [UInt64], sampling: SamplingOptions,
                         stops: Set<Int32>, maxNewTokens: Int, generationBatch: Int, groupSize: Int) throws -> (ids: [[Int32]], logprobs: [[Float]]) {
        var ids: [[Int32]] = [], logprobs: [[Float]] = []
        let chunk = max(1, generationBatch / groupSize) * groupSize
        for start in stride(from: 0, to: prompts.count, by: chunk) {
            let range = start..<min(prompts.count, start + chunk)
            do {
                let part = try model.generate(prompts: Array(prompts[range]), maxNewTokens: maxNewTokens, sampling: sampling,
                                              stopTokens: stops, lora: adapter, streams: Array(streams[range]), logprobs: true)
                ids += part.ids
                logprobs += part.logprobs!
            } catch {
                throw PipelineError.invalidInput("generation: \(error)")
            }
        }
        return (ids, logprobs)
    }
}
