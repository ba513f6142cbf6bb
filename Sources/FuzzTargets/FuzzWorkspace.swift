// The scratch directory the targets write their inputs into: a store holding a few small objects
// of every codec (so that fuzzed manifests, deltas and journal lines can name real objects), a
// Hugging Face model directory, a bare store directory for config.json, and a store plus a tiny
// tokenizer for llama2.c imports. Made once per process, deterministic (the same ids every time:
// the committed seeds name them), removed at exit.
//
// The directory is $BRIDGE_FUZZ_TMP, else /dev/shm (fsync and file creation are cheap there),
// else $TMPDIR or /tmp.

import Checkpoint
import ShardStore
import Tensors

#if canImport(Glibc)
import Glibc
#endif

public final class FuzzWorkspace: @unchecked Sendable {
    public static let shared = FuzzWorkspace()

    let root: String
    /// Holds `objects` (below); inputs are written into it and removed again.
    let store: Store
    /// Every object of `store` by id, with its file's bytes (a fuzzed object may reuse an id).
    let objectFiles: [ObjectID: [UInt8]]
    /// Tensor entries of the seed objects, by name.
    let tensors: [String: TensorEntry]
    /// The seed tensor set's manifest id.
    let tensorSetID: ObjectID
    let hfDirectory: String
    let bareStore: String
    let llama2cStore: Store
    let llama2cTokenizer: String
    /// Tokens in `llama2cTokenizer` (the vocabulary a llama2.c model must have to import).
    static let llama2cVocab = 8

    nonisolated(unsafe) private static var removeAtExit: String?

    private init() {
        let env = { (name: String) -> String? in getenv(name).flatMap { String(validatingCString: $0) }.flatMap { $0.isEmpty ? nil : $0 } }
        let base = env("BRIDGE_FUZZ_TMP") ?? (access("/dev/shm", W_OK) == 0 ? "/dev/shm" : env("TMPDIR") ?? "/tmp")
        root = base + "/bridge-fuzz-\(getpid())-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        do {
            try Posix.makeDirectory(root)
            FuzzWorkspace.removeAtExit = root
            atexit { if let r = FuzzWorkspace.removeAtExit { try? Posix.removeTree(r) } }

            let store = try Store.create(at: root + "/store")
            self.store = store
            var tensors: [String: TensorEntry] = [:]
            for seed in FuzzWorkspace.seedTensors {
                let r = try seed.bytes.withUnsafeBytes {
                    try store.put($0, kind: .tensor, tag: seed.dtype.code, codec: seed.codec,
                                  base: seed.base.flatMap { tensors[$0]?.chunks[0].id })
                }
                tensors[seed.name] = TensorEntry(name: seed.name, dtype: seed.dtype, shape: seed.shape,
                                                 chunks: [TensorChunk(id: r.id, bytes: seed.bytes.count)])
            }
            _ = try store.put(Array("a blob, as a dataset file is stored\n".utf8), kind: .blob, codec: .lz4)
            tensorSetID = try store.putTensorSet(Array(tensors.values), metadata: ["source": "fuzz seed"])
            self.tensors = tensors
            var files: [ObjectID: [UInt8]] = [:]
            for id in try store.allObjectIDs() { files[id] = try Posix.readFile(store.objectPath(id)) }
            objectFiles = files

            hfDirectory = root + "/hf"
            try Posix.makeDirectory(hfDirectory)
            bareStore = root + "/bare-store"
            try Posix.makeDirectory(bareStore)
            for sub in ["objects", "refs", "journal", "tmp"] { try Posix.makeDirectory(bareStore + "/" + sub) }

            llama2cStore = try Store.create(at: root + "/llama2c-store")
            llama2cTokenizer = root + "/tok8.bin"
            try FuzzWorkspace.write(FuzzWorkspace.tinyLlama2cTokenizer(), to: llama2cTokenizer)
        } catch {
            fatalError("bridge-fuzz: cannot set up the scratch directory \(root): \(error)")
        }
    }

    /// Small tensors, one per codec: raw f32, lz4 i32, shuffle-lz4 f32, a delta f32 against the first, raw u8.
    struct SeedTensor {
        var name: String
        var dtype: DType
        var shape: [Int]
        var bytes: [UInt8]
        var codec: CodecPolicy
        var base: String? = nil
    }

    static let seedTensors: [SeedTensor] = {
        func f32(_ values: [Float]) -> [UInt8] { values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v.bitPattern >> (8 * $0)) } } }
        func i32(_ values: [Int32]) -> [UInt8] { values.flatMap { v in (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } } }
        let w = (0..<32).map { Float($0) * 0.25 - 4 }
        var w2 = w
        w2[3] += 0.5
        w2[17] = -w2[17]
        return [
            SeedTensor(name: "w", dtype: .f32, shape: [4, 8], bytes: f32(w), codec: .raw),
            SeedTensor(name: "ids", dtype: .i32, shape: [64], bytes: i32((0..<64).map { Int32($0 % 5) }), codec: .lz4),
            SeedTensor(name: "norm", dtype: .f32, shape: [64], bytes: f32((0..<64).map { 1 + Float($0) / 1024 }), codec: .shuffleLZ4),
            SeedTensor(name: "w_next", dtype: .f32, shape: [4, 8], bytes: f32(w2), codec: .raw, base: "w"),
            SeedTensor(name: "mask", dtype: .u8, shape: [3, 5], bytes: (0..<15).map { UInt8($0 & 1) }, codec: .raw),
            SeedTensor(name: "empty", dtype: .bf16, shape: [0, 3], bytes: [], codec: .raw),
        ]
    }()

    /// A llama2.c tokenizer.bin of `llama2cVocab` tokens (import checks only its layout).
    static func tinyLlama2cTokenizer() -> [UInt8] {
        var out: [UInt8] = le32(UInt32(5))
        for i in 0..<llama2cVocab {
            let piece: [UInt8] = i < 3 ? Array(["<unk>", "<s>", "</s>"][i].utf8) : Array(" abcde".utf8)[(i - 3)..<(i - 2)].map { $0 }
            out += le32(Float(-Double(i)).bitPattern) + le32(UInt32(piece.count)) + piece
        }
        return out
    }

    static func le32(_ v: UInt32) -> [UInt8] { (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) } }

    static func write(_ bytes: [UInt8], to path: String) throws {
        let h = try FileHandle.open(path, flags: O_WRONLY | O_CREAT | O_TRUNC)
        try h.writeAll(bytes)
    }

    static func remove(_ path: String) { try? Posix.unlinkIfExists(path) }

    /// Empties a store's objects/ (what an import wrote), keeping the store.
    static func clearObjects(_ store: Store) {
        for fan in (try? Posix.listDirectory(store.root + "/objects")) ?? [] {
            try? Posix.removeTree(store.root + "/objects/" + fan)
        }
    }
}
