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
        var offsets: [Int64] = [0]
        var ids: [Int32] = []
        var mask: [UInt8] = []
        ids.reserveCapacity(tokenCount)
        for (i, s) in sequences.enumerated() {
            ids += s
            offsets.append(Int64(ids.count))
            if kind == .sft {
                mask += [UInt8](repeating: 0, count: promptLengths[i]) + [UInt8](repeating: 1, count: s.count - promptLengths[i])
            }
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
        func column<T>(_ name: String, _ type: T.Type, _ dtype: DType) throws -> [T] {
            guard let e = set.entry(name) else { throw bad("no tensor '\(name)'") }
            guard e.dtype == dtype, e.shape.count == 1 else { throw bad("tensor '\(name)' is \(e.dtype.rawValue)\(e.shape), expected 1-D \(dtype.rawValue)") }
            return try store.loadTensor(e).buffer.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
        }
        let ids = try column("input_ids", Int32.self, .i32)
        let offsets = try column("offsets", Int64.self, .i64).map(Int.init)
        let promptLengths = try column("prompt_lengths", Int32.self, .i32).map(Int.init)
        let n = promptLengths.count
        guard offsets.count == n + 1, offsets.first == 0, offsets.last == ids.count, zip(offsets, offsets.dropFirst()).allSatisfy({ $0 <= $1 }) else {
            throw bad("offsets do not partition input_ids")
        }
        let sequences = (0..<n).map { Array(ids[offsets[$0]..<offsets[$0 + 1]]) }
        guard zip(sequences, promptLengths).allSatisfy({ $1 >= 0 && $1 <= $0.count }) else { throw bad("a prompt length exceeds its example") }
        func strings(_ name: String, _ offsetsName: String) throws -> [String] {
            let bytes = try column(name, UInt8.self, .u8)
            let o = try column(offsetsName, Int64.self, .i64).map(Int.init)
            guard o.count == n + 1, o.first == 0, o.last == bytes.count, zip(o, o.dropFirst()).allSatisfy({ $0 <= $1 }) else {
                throw bad("\(offsetsName) do not partition \(name)")
            }
            return try (0..<n).map {
                guard let s = String(validating: bytes[o[$0]..<o[$0 + 1]], as: UTF8.self) else { throw bad("\(name)[\($0)] is not UTF-8") }
                return s
            }
        }
        var metadata = set.metadata
        for key in ["format", "kind", "examples", "tokens"] { metadata.removeValue(forKey: key) }
        return TokenShard(kind: kind, sequences: sequences, promptLengths: promptLengths,
                          answers: try strings("answers", "answer_offsets"), recordIDs: try strings("record_ids", "record_id_offsets"),
                          metadata: metadata)
    }
}

func raggedUTF8(_ strings: [String]) -> ([UInt8], [Int64]) {
    var bytes: [UInt8] = []
    var offsets: [Int64] = [0]
    for s in strings {
        bytes += Array(s.utf8)
        offsets.append(Int64(bytes.count))
    }
    return (bytes, offsets)
}

extension Tensor {
    /// A 1-D tensor owning a copy of `values` (a fixed-width integer or float type matching `dtype`).
    public init<T: BitwiseCopyable>(values: [T], dtype: DType) {
        precondition(MemoryLayout<T>.size == dtype.size, "\(T.self) is not \(dtype.rawValue)")
        let buffer = values.withUnsafeBytes { ByteBuffer(copying: $0) }
        self.init(dtype: dtype, shape: [values.count], buffer: buffer)
    }
}
