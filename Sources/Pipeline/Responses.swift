// Responses: what the rollout stage writes (and what `bridge stage score` builds from a JSONL
// file by hand), as a tensor set (schemas/token-shard.md):
//
//   response_ids      i32 [T]     every response's generated tokens, back to back
//   response_offsets  i64 [N+1]   response j is response_ids[response_offsets[j] ..< response_offsets[j+1]]
//   prompt_index      i32 [N]     the example of the prompt shard each response answers
//   finished          u8  [N]     1 when the response ended with a stop token, 0 when cut at the length limit
//   logprobs          f32 [T]     (rollouts only) log-probability of each token under the sampling policy
//
// Responses are grouped: the G responses to one prompt are consecutive.
// metadata: {"format": "bridge-responses", "group_size": G, "prompts": <shard id>}.

import Checkpoint
import ShardStore
import Tensors

public struct Responses: Sendable, Equatable {
    public var tokens: [[Int32]]
    public var promptIndex: [Int]
    public var finished: [Bool]
    public var logprobs: [[Float]]?
    public var groupSize: Int
    public var prompts: ObjectID

    public init(tokens: [[Int32]], promptIndex: [Int], finished: [Bool], logprobs: [[Float]]? = nil, groupSize: Int, prompts: ObjectID) {
        self.tokens = tokens
        self.promptIndex = promptIndex
        self.finished = finished
        self.logprobs = logprobs
        self.groupSize = groupSize
        self.prompts = prompts
    }

    public var count: Int { tokens.count }

    /// Checks the grouping: whole groups of `groupSize`, one prompt per group, indices inside the shard.
    public func validate(promptCount: Int) throws {
        func bad(_ why: String) -> PipelineError { .invalidInput("responses: \(why)") }
        guard groupSize > 0, count % groupSize == 0 else { throw bad("\(count) responses do not form whole groups of \(groupSize)") }
        guard promptIndex.count == count, finished.count == count else { throw bad("column lengths differ") }
        for g in stride(from: 0, to: count, by: groupSize) {
            let p = promptIndex[g]
            guard p >= 0, p < promptCount else { throw bad("response \(g) answers prompt \(p), but the shard has \(promptCount)") }
            guard promptIndex[g..<(g + groupSize)].allSatisfy({ $0 == p }) else { throw bad("group starting at response \(g) mixes prompts") }
        }
        if let logprobs {
            guard logprobs.count == count, zip(logprobs, tokens).allSatisfy({ $0.count == $1.count }) else { throw bad("logprobs do not match the tokens") }
        }
    }

    public func store(in store: Store) throws -> ObjectID {
        let (ids, offsets) = ragged(tokens)
        var entries = [
            try store.putTensor(name: "response_ids", Tensor(values: ids, dtype: .i32)),
            try store.putTensor(name: "response_offsets", Tensor(values: offsets, dtype: .i64)),
            try store.putTensor(name: "prompt_index", Tensor(values: promptIndex.map(Int32.init), dtype: .i32)),
            try store.putTensor(name: "finished", Tensor(values: finished.map { $0 ? UInt8(1) : 0 }, dtype: .u8)),
        ]
        if let logprobs { entries.append(try store.putTensor(name: "logprobs", Tensor(values: logprobs.flatMap { $0 }, dtype: .f32))) }
        return try store.putTensorSet(entries, metadata: ["format": "bridge-responses", "group_size": .int(groupSize), "prompts": .string(prompts.hex)])
    }

    /// Responses that must answer the prompt shard `prompts` (checked, with their grouping), and the shard.
    public static func load(from store: Store, id: ObjectID, answering prompts: ObjectID) throws -> (Responses, TokenShard) {
        let shard = try TokenShard.load(from: store, id: prompts)
        let r = try load(from: store, id: id)
        guard r.prompts == prompts else {
            throw PipelineError.invalidInput("responses \(id.hex.prefix(12)) answer prompt shard \(r.prompts.hex.prefix(12)), not the shard given (\(prompts.hex.prefix(12)))")
        }
        try r.validate(promptCount: shard.count)
        return (r, shard)
    }

    public static func load(from store: Store, id: ObjectID) throws -> Responses {
        let set = try store.tensorSet(id)
        func bad(_ why: String) -> PipelineError { .invalidInput("object \(id) is not a responses set: \(why)") }
        guard set.metadata["format"]?.stringValue == "bridge-responses", let g = set.metadata["group_size"]?.intValue,
              let prompts = set.metadata["prompts"]?.stringValue.flatMap(ObjectID.init(hex:)) else { throw bad("no responses metadata") }
        let ids: [Int32] = try store.requiredColumn(set, "response_ids", .i32)
        let offsets: [Int64] = try store.requiredColumn(set, "response_offsets", .i64)
        let index: [Int32] = try store.requiredColumn(set, "prompt_index", .i32)
        let finished: [UInt8] = try store.requiredColumn(set, "finished", .u8)
        guard offsets.count == index.count + 1, let tokens = split(ids, by: offsets)?.map(Array.init) else {
            throw bad("response_offsets do not partition response_ids")
        }
        let lp: [Float]? = try store.column(set, "logprobs", .f32)
        if let lp, lp.count != ids.count { throw bad("logprobs do not match response_ids") }
        return Responses(tokens: tokens, promptIndex: index.map(Int.init), finished: finished.map { $0 != 0 },
                         logprobs: lp.flatMap { split($0, by: offsets)?.map(Array.init) },
                         groupSize: g, prompts: prompts)
    }
}
