// The rollout stage: a policy (a model tensor set, with its LoRA adapter if it carries one) and a
// prompt shard (rl or eval) → G sampled responses to each of `batch` prompts taken at `cursor`
// (wrapping around the shard: the next epoch), with each token's log-probability under the
// sampling policy (log softmax of logits / temperature, before any top-p cut). Response k of
// prompt cursor+i draws from Philox(seed, stream (cursor+i)·G + k), so the same parameters write
// the same bytes, whatever the batch or thread count. A response ends at a stop token (the
// model's eos ids and the shard's template end-of-turn or end-of-sequence token) or at
// `maxNewTokens`.

import Checkpoint
import Foundation
import LanguageModel
import ShardStore
import Tokenizers

public struct RolloutStage: Stage {
    public static let name = "rollout"
    public static let version = 1

    public var policy: ObjectID
    public var prompts: ObjectID
    public var cursor: Int
    public var batch: Int
    public var groupSize: Int
    public var maxNewTokens: Int
    public var temperature: Float
    public var topP: Float
    public var seed: UInt64

    public init(policy: ObjectID, prompts: ObjectID, cursor: Int, batch: Int, groupSize: Int, maxNewTokens: Int,
                temperature: Float = 1, topP: Float = 1, seed: UInt64 = 0) {
        self.policy = policy
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
         "temperature": .double(Double(temperature)), "top_p": .double(Double(topP)), "seed": .string(String(seed))]
    }

    public var inputs: [String: JSONValue] { ["policy": .string(policy.hex), "prompts": .string(prompts.hex)] }

    /// Shard rows of the prompts at `cursor` (wrapping), and their sampler streams.
    public static func selection(cursor: Int, batch: Int, groupSize: Int, shardCount: Int) -> (rows: [Int], streams: [UInt64]) {
        var rows: [Int] = [], streams: [UInt64] = []
        for i in 0..<batch {
            for k in 0..<groupSize {
                rows.append((cursor + i) % shardCount)
                streams.append(UInt64(cursor + i) * UInt64(groupSize) + UInt64(k))
            }
        }
        return (rows, streams)
    }

    public func run(in store: Store) throws -> StageResult {
        func bad(_ why: String) -> PipelineError { .invalidInput("rollout: \(why)") }
        guard cursor >= 0, batch > 0, groupSize > 0, maxNewTokens > 0 else {
            throw bad("needs cursor ≥ 0 and batch, group size, max new tokens > 0")
        }
        guard temperature > 0, temperature.isFinite, topP > 0, topP <= 1 else { throw bad("needs temperature > 0 and top-p in (0, 1]") }
        let shard = try TokenShard.load(from: store, id: prompts)
        guard shard.kind != .sft else { throw bad("shard \(prompts.hex.prefix(12)) holds SFT examples, not prompts (tokenize with --kind rl or eval)") }
        let loaded = try store.loadModel(try store.tensorSet(policy))
        let model = loaded.model

        // the raw template's end-of-sequence id is in the shard's metadata; a chat template's
        // end-of-turn id needs the shard's tokenizer
        var stops = Set(model.config.eosTokenIds.map(Int32.init))
        if let eos = shard.metadata["eos"]?.intValue { stops.insert(Int32(eos)) }
        if let t = shard.metadata["tokenizer"]?.stringValue.flatMap(ObjectID.init(hex:)),
           let name = shard.metadata["template"]?.stringValue, let template = try? ChatTemplate(name: name), template != .raw {
            let tok = try TokenizerLoader.load(bytes: try store.read(t).array, name: "tokenizer \(t.hex.prefix(12))")
            stops.formUnion(TokenizeStage.stopTokens(tok, template: template))
        }

        let (rows, streams) = Self.selection(cursor: cursor, batch: batch, groupSize: groupSize, shardCount: shard.count)
        let promptTokens = rows.map { Array(shard.prompt($0)) }
        let result: GenerationResult
        do {
            result = try model.generate(prompts: promptTokens, maxNewTokens: maxNewTokens,
                                        sampling: SamplingOptions(temperature: temperature, topP: topP, seed: seed),
                                        stopTokens: stops, lora: loaded.adapter, streams: streams, logprobs: true)
        } catch {
            throw bad("\(error)")
        }
        let finished = result.ids.map { $0.last.map(stops.contains) ?? false }
        let responses = Responses(tokens: result.ids, promptIndex: rows, finished: finished, logprobs: result.logprobs,
                                  groupSize: groupSize, prompts: prompts)
        let id = try responses.store(in: store)
        let lengths = result.ids.map(\.count)
        let tokens = lengths.reduce(0, +)
        return StageResult(outputs: ["responses": .string(id.hex)], metrics: [
            "responses": .int(responses.count), "tokens": .int(tokens),
            "response_tokens_mean": .double(Double(tokens) / Double(responses.count)),
            "response_tokens_max": .int(lengths.max() ?? 0),
            "finished": .double(Double(finished.filter { $0 }.count) / Double(responses.count)),
            "next_cursor": .int(cursor + batch),
        ])
    }
}
