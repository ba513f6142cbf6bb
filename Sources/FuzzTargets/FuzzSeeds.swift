// Generated seed inputs (`BridgeFuzz seeds TARGET DIR`): small valid files made by bridge's own
// writers against the scratch store's objects, so that fuzzing starts from inputs that reach deep
// into each parser. Tests/Fuzz/README.md lists which committed seeds come from here and which are
// copies or excerpts of the repository's fixtures.

import Checkpoint
import LanguageModel
import Pipeline
import ShardStore
import Tensors

public enum FuzzSeeds {
    public static func generate(_ target: FuzzTarget) throws -> [(String, [UInt8])] {
        let ws = FuzzWorkspace.shared
        switch target.name {
        case "object":
            return ws.objectFiles.sorted { $0.key < $1.key }.map { id, file in
                let codec = Codec(rawValue: file[10])?.name ?? "?"
                let kind = ObjectKind(rawValue: file[11])?.name ?? "?"
                return ("\(kind)-\(codec)-\(id.hex.prefix(8))", file)
            }
        case "tensor-set":
            let t = ws.tensors
            let chunked = TensorEntry(name: "w_chunked", dtype: .f32, shape: [8, 8], chunks: t["w"]!.chunks + t["w_next"]!.chunks)
            return [
                ("seed-set", try ws.store.readJSON(ws.tensorSetID).canonicalBytes),
                ("chunked-with-parent", TensorSet(tensors: [chunked, t["mask"]!], metadata: ["step": 3, "note": "a child"], parent: ws.tensorSetID).json.canonicalBytes),
                ("empty-tensor-pretty", Array(TensorSet(tensors: [t["empty"]!]).json.pretty.utf8)),
            ]
        case "run-state":
            let ids = ws.tensors.values.map { $0.chunks[0].id }.sorted()
            let full = RunState(step: 12, method: .bridge, seed: 1234567890123, theta: ws.tensorSetID, thetaHat: ids[0], lora: ids[1],
                                optimizers: ["theta": ids[2], "lora": ids[3]], reference: ids[4], cursors: ["rl": 96, "sft": 192],
                                config: ws.tensorSetID, parent: ids[0], metrics: ["reward_mean": 0.375, "sft_loss": 1.25, "eval/held-out/accuracy": 0.5])
            let first = RunState(step: 0, method: .sft, seed: 0, theta: ws.tensorSetID, config: ids[2])
            return [("bridge-step12", full.json.canonicalBytes), ("sft-step0-pretty", Array(first.json.pretty.utf8))]
        case "journal":
            let ids = ws.tensors.values.map { $0.chunks[0].id.hex }.sorted()
            let lines: [JSONValue] = [
                StageRecord(stage: "import", version: 1, outputs: ["model": .string(ws.tensorSetID.hex)], time: "2025-01-01T00:00:00Z", wallSeconds: 0.5).json,
                StageRecord(stage: "sft", version: 2, step: 1, params: ["lr": 0.001, "batch": 16], inputs: ["theta": .string(ws.tensorSetID.hex), "data": .string(ids[0])],
                            outputs: ["theta": .string(ids[1]), "theta_optimizer": .string(ids[2])], metrics: ["sft_loss": 2.5], time: "2025-01-01T00:00:01Z", wallSeconds: 1.25).json,
                StageRecord(stage: "rollout", version: 1, step: 2, inputs: ["theta": .string(ids[1])], outputs: ["rollouts": .string(ids[3])],
                            metrics: ["reward_mean": 0.25], time: "2025-01-01T00:00:02Z", wallSeconds: 3).json,
            ]
            let text = lines.map { $0.canonical + "\n" }.joined()
            return [("three-lines", Array(text.utf8)), ("torn-tail", Array((text + #"{"stage":"sco"#).utf8)), ("empty", [])]
        case "store-config":
            return [
                ("created", try Posix.readFile(ws.store.root + "/config.json") ?? []),
                ("every-key", Array(#"{"format": "bridge-store", "version": 1, "chunk_bytes": 4096, "compression": "shuffle-lz4", "gc_grace_seconds": 0.5, "float_compression": "auto", "delta_max_depth": 255, "delta_min_saving": 0.25, "delta_max_chain_bytes": 1048576}"#.utf8)),
            ]
        case "llama2c-model":
            return [("shared-classifier", tinyLlama2cModel(shared: true)), ("own-classifier", tinyLlama2cModel(shared: false))]
        case "llama2c-tokenizer":
            return [("bytes-and-merges", tinyLlama2cTokenizer())]
        case "safetensors":
            func tensor(_ dtype: DType, _ shape: [Int]) -> (name: String, dtype: DType, shape: [Int], bytes: Int) {
                ("t_\(dtype.rawValue)_\(shape.count)", dtype, shape, (shapeElementCount(shape) ?? 0) * dtype.size)
            }
            let layout = [tensor(.f32, [2, 3]), tensor(.bf16, [4]), tensor(.i64, []), tensor(.u8, [0, 5]), tensor(.bool, [3])]
            let header = SafetensorsWriter.header(layout, metadata: ["format": "pt"])
            let data = (0..<layout.reduce(0) { $0 + $1.bytes }).map { UInt8(truncatingIfNeeded: $0 &* 37) }
            return [("mixed-dtypes", header + data)]
        case "model-config":
            return ModelConfig.Family.allCases.map { family in
                let c = ModelConfig(modelType: family, vocabSize: 64, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 2,
                                    numAttentionHeads: 4, numKeyValueHeads: 2, headDim: family == .qwen3 ? 8 : nil,
                                    ropeScaling: family == .llama ? RoPE.Llama3Scaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 64) : nil,
                                    maxPositionEmbeddings: 128, tieWordEmbeddings: family != .llama, bosTokenId: 1, eosTokenIds: family == .llama ? [2, 3] : [2])
                return ("tiny-\(family.rawValue)", [UInt8](c.hfConfigJSON()))
            }
        default:
            return []
        }
    }

    static func le32(_ v: UInt32) -> [UInt8] { FuzzWorkspace.le32(v) }
    static func f32(_ v: Float) -> [UInt8] { le32(v.bitPattern) }

    /// dim 8, hidden 16, 1 layer, 2 heads, 1 kv head, the workspace tokenizer's 8 tokens, 4 positions.
    static func tinyLlama2cModel(shared: Bool) -> [UInt8] {
        let (dim, hidden, layers, heads, kvHeads, vocab, seq) = (8, 16, 1, 2, 1, FuzzWorkspace.llama2cVocab, 4)
        let headDim = dim / heads, kvDim = kvHeads * headDim
        var out: [UInt8] = []
        for v in [dim, hidden, layers, heads, kvHeads, shared ? vocab : -vocab, seq] { out += le32(UInt32(bitPattern: Int32(v))) }
        let floats = vocab * dim + layers * (dim + 2 * dim * dim + 2 * kvDim * dim + dim + 3 * hidden * dim) + dim + seq * headDim + (shared ? 0 : vocab * dim)
        for i in 0..<floats { out += f32(Float((i * 7919) % 97) / 97 - 0.5) }
        return out
    }

    /// <unk>, <s>, </s>, the 256 byte tokens <0xNN>, then " ", "a", "b", " a", "ab", " ab".
    static func tinyLlama2cTokenizer() -> [UInt8] {
        var pieces = ["<unk>", "<s>", "</s>"].map { Array($0.utf8) }
        for b in 0..<256 { pieces.append(Array("<0x\(String(b, radix: 16, uppercase: true).leftPadded(2))>".utf8)) }
        pieces += [" ", "a", "b", " a", "ab", " ab"].map { Array($0.utf8) }
        var out = le32(6)
        for (i, p) in pieces.enumerated() { out += f32(i < 259 ? 0 : -Float(i - 259)) + le32(UInt32(p.count)) + p }
        return out
    }
}

extension String {
    func leftPadded(_ n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
