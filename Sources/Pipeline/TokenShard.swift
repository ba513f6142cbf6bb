// Token shards: what the tokenize stage writes, as tensor sets (schemas/token-shard.md).
//
//   input_ids        i32 [T]     all examples' tokens, back to back
//   offsets          i64 [n+1]   example i is input_ids[offsets[i] ..< offsets[i+1]]
//   prompt_lengths   i32 [n]     the first prompt_lengths[i] tokens of example i are the prompt
//   loss_mask        u8  [T]     1 on target tokens (SFT shards only)
//   answers          u8  [A]     reference answers, UTF-8, back to back; answer_offsets i64 [n+1]
//   record_ids       u8  [R]     dataset record ids, UTF-8, back to back; record_id_offsets i64 [n+1]
//
// metadata: {"format": "bridge-token-shard", "kind": "sft"|"rl"|"eval", "examples": n,
// "tokens": T, "template": ..., "tokenizer": <blob id>, "source": ...}.

import Checkpoint
import ShardStore
import Tensors

public struct TokenShard: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case sft, rl, eval }

    public var kind: Kind
    /// Token ids of each example (prompt, then target for SFT).
    public var sequences: [[Int32]]
    public var promptLengths: [Int]
    public var answers: [String]
    public var recordIDs: [String]
    public var metadata: [String: JSONValue]

    public init(kind: Kind, sequences: [[Int32]], promptLengths: [Int], answers: [String], recordIDs: [String], metadata: [String: JSONValue] = [:]) {
        precondition(sequences.count == promptLengths.count && sequences.count == answers.count && sequences.count == recordIDs.count)
        self.kind = kind
        self.sequences = sequences
        self.promptLengths = promptLengths
        self.answers = answers
        self.recordIDs = recordIDs
        self.metadata = metadata
    }

    public var count: Int { sequences.count }
    public var tokenCount: Int { sequences.reduce(0) { $0 + $1.count } }

    /// Target tokens of example i (empty for prompt-only shards).
    public func target(_ i: Int) -> ArraySlice<Int32> { sequences[i][promptLengths[i]...] }
    public func prompt(_ i: Int) -> ArraySlice<Int32> { sequences[i][..<promptLengths[i]] }

    /// Stores the shard as a tensor set; returns its id.
    public func store(in store: Store) throws -> ObjectID {
        let (ids, offsets) = ragged(sequences)
        var mask: [UInt8] = []
        if kind == .sft {
            for (s, p) in zip(sequences, promptLengths) { mask += [UInt8](repeating: 0, count: p) + [UInt8](repeating: 1, count: s.count - p) }
        }
        var entries = [
            try store.putTensor(name: "input_ids", Tensor(values: ids, dtype: .i32)),
            try store.putTensor(name: "offsets", Tensor(values: offsets, dtype: .i64)),
            try store.putTensor(name: "prompt_lengths", Tensor(values: promptLengths.map(Int32.init), dtype: .i32)),
        ]
        if kind == .sft { entries.append(try store.putTensor(name: "loss_mask", Tensor(values: mask, dtype: .u8))) }
        for (name, strings) in [("answers", answers), ("record_ids", recordIDs)] {
            let (bytes, stringOffsets) = raggedUTF8(strings)
            entries.append(try store.putTensor(name: name, Tensor(values: bytes, dtype: .u8)))
            entries.append(try store.putTensor(name: name == "answers" ? "answer_offsets" : "record_id_offsets", Tensor(values: stringOffsets, dtype: .i64)))
        }
        var meta = metadata
        meta["format"] = "bridge-token-shard"
        meta["kind"] = .string(kind.rawValue)
        meta["examples"] = .int(count)
        meta["tokens"] = .int(tokenCount)
        return try store.putTensorSet(entries, metadata: meta)
    }

    /// Reads a shard back (verifying every object).
    public static func load(from store: Store, id: ObjectID) throws -> TokenShard {
        let set = try store.tensorSet(id)
        func bad(_ why: String) -> PipelineError { .invalidInput("object \(id) is not a token shard: \(why)") }
        guard set.metadata["format"]?.stringValue == "bridge-token-shard",
              let kind = set.metadata["kind"]?.stringValue.flatMap(Kind.init(rawValue:)) else { throw bad("no token-shard metadata") }
        let ids: [Int32] = try store.requiredColumn(set, "input_ids", .i32)
        let promptLengths = try store.requiredColumn(set, "prompt_lengths", .i32, as: Int32.self).map(Int.init)
        let n = promptLengths.count
        let offsets: [Int64] = try store.requiredColumn(set, "offsets", .i64)
        guard offsets.count == n + 1, let sequences = split(ids, by: offsets)?.map(Array.init) else { throw bad("offsets do not partition input_ids") }
        guard zip(sequences, promptLengths).allSatisfy({ $1 >= 0 && $1 <= $0.count }) else { throw bad("a prompt length exceeds its example") }
        func strings(_ name: String, _ offsetsName: String) throws -> [String] {
            try store.stringColumn(set, name, offsets: offsetsName, count: n)
        }
        var metadata = set.metadata
        for key in ["format", "kind", "examples", "tokens"] { metadata.removeValue(forKey: key) }
        return TokenShard(kind: kind, sequences: sequences, promptLengths: promptLengths,
                          answers: try strings("answers", "answer_offsets"), recordIDs: try strings("record_ids", "record_id_offsets"),
                          metadata: metadata)
    }
}
