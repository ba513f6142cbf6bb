// Models in the store: import hf (single file and sharded save_pretrained directories), import
// llama2c (stories260K decodes greedily exactly as llama2.c's run.c), export hf round trips,
// LoRA export, and bad input that names what is wrong and writes nothing.

import Foundation
import Testing
import LanguageModel
import Tensors
import TestSupport
@testable import Checkpoint
@testable import ShardStore

let checkpointFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures").path
let modelFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("LanguageModelTests/Fixtures").path

@Suite struct ModelImportExportTests {
    let scratch = ScratchDirectory("models")

    func goldenLogits(_ family: String) throws -> (tokens: [Int32], logits: [Float], batch: Int, time: Int) {
        let json = try fixtureJSON(modelFixtures + "/\(family)/golden.json")
        let golden = try FixtureTensors(path: modelFixtures + "/\(family)/golden.safetensors")
        return ((json["tokens"] as! [Int]).map(Int32.init), golden["logits"]!, json["batch"] as! Int, json["time"] as! Int)
    }

    func logits(_ loaded: LoadedModel, _ tokens: [Int32], batch: Int, time: Int) throws -> [Float] {
        let acts = Activations(config: loaded.model.config, batch: batch, time: time, lora: loaded.adapter?.config)
        try loaded.model.forward(tokens: tokens, acts: acts, lora: loaded.adapter)
        return acts.logits.array
    }

    @Test func stories260kDecodesLikeRunC() throws {
        let store = try Store.create(at: scratch.file("s"))
        let dir = checkpointFixtures + "/stories260k"
        let set = try store.importLlama2c(file: dir + "/stories260K.bin", tokenizer: dir + "/tok512.bin")
        let loaded = try store.loadModel(try store.tensorSet(set.id!))
        #expect(loaded.model.config.numKeyValueHeads == 4 && loaded.model.config.tieWordEmbeddings)
        #expect(loaded.tokenizerFiles["tokenizer.bin"]?.count == 6227)
        let expected = (try fixtureJSON(dir + "/greedy_ids.json")["ids"] as! [Int]).map(Int32.init)
        let result = try loaded.model.generate(prompts: [[1]], maxNewTokens: 200)
        #expect(result.ids[0] == expected)
    }

    @Test(arguments: [("qwen2", "/qwen2"), ("llama", "sharded")])
    func importHuggingFaceGivesTheGoldenLogits(family: String, source: String) throws {
        let store = try Store.create(at: scratch.file("s-\(family)"))
        let dir = source == "sharded" ? checkpointFixtures + "/hf-sharded-llama" : modelFixtures + source
        let set = try store.importHuggingFace(directory: dir)
        let loaded = try store.loadModel(try store.tensorSet(set.id!))
        let g = try goldenLogits(family)
        expectClose(try logits(loaded, g.tokens, batch: g.batch, time: g.time), g.logits, rtol: 1e-4, atol: 1e-5)
    }

    @Test func bf16WeightsAreConvertedOnLoad() throws {
        let store = try Store.create(at: scratch.file("s"))
        let src = try FixtureTensors(path: modelFixtures + "/qwen2/model.safetensors")
        let dir = scratch.file("bf16")
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: modelFixtures + "/qwen2/config.json", toPath: dir + "/config.json")
        var bf16: [(String, Tensor)] = [], rounded: [String: Tensor] = [:]
        for name in src.names {
            let bits = src[name]!.map(floatToBFloat16)
            let bytes = bits.withUnsafeBytes { ByteBuffer(copying: $0) }
            bf16.append((name, Tensor(dtype: .bf16, shape: src.shapes[name]!, buffer: bytes)))
            rounded[name] = Tensor(f32: bits.map(bfloat16ToFloat), shape: src.shapes[name]!)
        }
        try SafetensorsWriter.write(bf16, to: dir + "/model.safetensors")
        let set = try store.importHuggingFace(directory: dir)
        #expect(set.tensors.filter { !$0.name.hasPrefix("tokenizer/") }.allSatisfy { $0.dtype == .bf16 })   // stored as given
        let loaded = try store.loadModel(set)
        let reference = try Transformer(config: loaded.model.config, params: ParameterLayout(config: loaded.model.config).assemble(rounded))
        let g = try goldenLogits("qwen2")
        let expected = try logits(LoadedModel(set: set, model: reference, adapter: nil, tokenizerFiles: [:]),
                                  g.tokens, batch: g.batch, time: g.time)
        #expect(try logits(loaded, g.tokens, batch: g.batch, time: g.time) == expected)
    }

    @Test func exportThenImportIsTheSameModel() throws {
        let store = try Store.create(at: scratch.file("s"))
        let set = try store.importHuggingFace(directory: modelFixtures + "/qwen3")
        // tiny shard limit: forces model-0000k-of-0000n.safetensors + index
        for (name, shard) in [("plain", 4 << 30), ("sharded", 30_000)] {
            let out = scratch.file("export-\(name)")
            try store.exportHuggingFace(set, to: out, shardBytes: shard)
            let files = try FileManager.default.contentsOfDirectory(atPath: out)
            #expect(files.contains("config.json"))
            #expect(files.contains(shard < 1000000 ? "model.safetensors.index.json" : "model.safetensors"))
            let again = try store.importHuggingFace(directory: out)
            let a = try store.loadModel(set), b = try store.loadModel(again)
            #expect(a.model.params.array == b.model.params.array)
            #expect(a.model.config == b.model.config)
        }
    }

    /// A model that carries a llama2.c tokenizer.bin (stories260K; the quickstart's base, which
    /// bridge pretrains with tok512.bin) goes out through `export hf` and back in with it.
    @Test func aLlama2cTokenizerTravelsThroughAHuggingFaceDirectory() throws {
        let store = try Store.create(at: scratch.file("s"))
        let dir = checkpointFixtures + "/stories260k"
        let set = try store.importLlama2c(file: dir + "/stories260K.bin", tokenizer: dir + "/tok512.bin")
        let out = scratch.file("export-llama2c")
        try store.exportHuggingFace(set, to: out)
        let tok512 = try #require(FileManager.default.contents(atPath: dir + "/tok512.bin"))
        #expect(FileManager.default.contents(atPath: out + "/tokenizer.bin") == tok512)
        let again = try store.loadModel(try store.importHuggingFace(directory: out))
        let a = try store.loadModel(set)
        #expect(again.model.params.array == a.model.params.array)
        #expect(again.tokenizerFiles["tokenizer.bin"] == [UInt8](tok512))

        // cut short: an error naming the file, and nothing imported
        try Data(tok512.prefix(tok512.count - 3)).write(to: URL(fileURLWithPath: out + "/tokenizer.bin"))
        let before = try store.stats().objects
        #expect { try store.importHuggingFace(directory: out) } throws: { "\($0)".contains(out + "/tokenizer.bin") }
        #expect(try store.stats().objects == before)
    }

    @Test func loraIsExportedMergedOrAsPEFTFiles() throws {
        let store = try Store.create(at: scratch.file("s"))
        let base = try store.importHuggingFace(directory: modelFixtures + "/llama")
        let loaded = try store.loadModel(base)
        let adapter = LoRAAdapter(config: LoRAConfig(r: 2, loraAlpha: 8, targetModules: [.q, .v, .up]), model: loaded.model.config, seed: 1)
        for i in 0..<adapter.params.count where adapter.params[i] == 0 { adapter.params[i] = 0.05 }
        let withLoRA = try store.putModel(params: loaded.model.params, layout: loaded.model.layout, adapter: adapter, like: base)
        let reloaded = try store.loadModel(try store.tensorSet(withLoRA.id!))
        #expect(reloaded.adapter?.params.array == adapter.params.array)
        let g = try goldenLogits("llama")
        let expected = try logits(reloaded, g.tokens, batch: g.batch, time: g.time)

        let merged = scratch.file("merged")
        try store.exportHuggingFace(withLoRA, to: merged, mergeLoRA: true)
        #expect(!FileManager.default.fileExists(atPath: merged + "/adapter_model.safetensors"))
        let m = try store.loadModel(try store.importHuggingFace(directory: merged))
        expectClose(try logits(m, g.tokens, batch: g.batch, time: g.time), expected, rtol: 1e-4, atol: 1e-5)

        let peft = scratch.file("peft")
        try store.exportHuggingFace(withLoRA, to: peft)
        let adapterFile = try SafetensorsFile(path: peft + "/adapter_model.safetensors")
        #expect(adapterFile.names.contains("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight"))
        let cfg = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: peft + "/adapter_config.json"))))
        #expect(cfg["r"]?.intValue == 2)
    }

    @Test func optimizerStateRoundTrips() throws {
        let store = try Store.create(at: scratch.file("s"))
        let loaded = try store.loadModel(try store.importHuggingFace(directory: modelFixtures + "/qwen3"))
        let layout = loaded.model.layout
        let m = randomBuffer(layout.totalCount, seed: 1), v = randomBuffer(layout.totalCount, seed: 2)
        let set = try store.putOptimizerState(m: m, v: v, step: 7, entries: layout.entries)
        #expect(set.tensors.count == 2 * layout.entries.count)
        let back = try store.loadOptimizerState(try store.tensorSet(set.id!), entries: layout.entries)
        #expect(back.step == 7 && back.m.array == m.array && back.v.array == v.array)
        // a LoRA layout's state is the same kind of set; the wrong layout is an error naming a tensor
        let lora = LoRALayout(config: loaded.model.config, lora: LoRAConfig(r: 2, loraAlpha: 4, targetModules: [.q]))
        #expect { try store.loadOptimizerState(set, entries: lora.entries) } throws: { "\($0)".contains("lora_A") }
    }

    @Test func badDirectoriesNameTheProblemAndWriteNothing() throws {
        let store = try Store.create(at: scratch.file("s"))
        let src = try FixtureTensors(path: modelFixtures + "/qwen2/model.safetensors")
        let config = try Data(contentsOf: URL(fileURLWithPath: modelFixtures + "/qwen2/config.json"))
        func directory(_ name: String, config: Data, drop: String? = nil, add: (String, Tensor)? = nil) throws -> String {
            let dir = scratch.file(name)
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try config.write(to: URL(fileURLWithPath: dir + "/config.json"))
            var tensors = src.names.filter { $0 != drop }.map { ($0, Tensor(f32: src[$0]!, shape: src.shapes[$0]!)) }
            if let add { tensors.append(add) }
            try SafetensorsWriter.write(tensors, to: dir + "/model.safetensors")
            return dir
        }
        let before = try store.stats().objects
        let missing = try directory("missing", config: config, drop: "model.layers.1.mlp.up_proj.weight")
        #expect { try store.importHuggingFace(directory: missing) } throws: { "\($0)".contains("model.layers.1.mlp.up_proj.weight") && "\($0)".contains("missing") }
        let extra = try directory("extra", config: config, add: ("model.layers.9.mlp.up_proj.weight", Tensor(f32: [1], shape: [1])))
        #expect { try store.importHuggingFace(directory: extra) } throws: { "\($0)".contains("unused tensor 'model.layers.9.mlp.up_proj.weight'") }
        let badType = try directory("gpt2", config: Data(String(decoding: config, as: UTF8.self).replacingOccurrences(of: "\"qwen2\"", with: "\"gpt2\"").utf8))
        #expect { try store.importHuggingFace(directory: badType) } throws: { "\($0)".contains("unknown model_type 'gpt2'") }
        let wrongShape = try directory("shape", config: Data(String(decoding: config, as: UTF8.self).replacingOccurrences(of: "\"intermediate_size\": 48", with: "\"intermediate_size\": 40").utf8))
        #expect { try store.importHuggingFace(directory: wrongShape) } throws: { "\($0)".contains("shape") }
        #expect { try store.importHuggingFace(directory: scratch.file("nowhere")) } throws: { "\($0)".contains("config.json") }
        #expect(try store.stats().objects == before)
        // a truncated llama2.c file
        let truncated = scratch.file("short.bin")
        try Data(try Data(contentsOf: URL(fileURLWithPath: checkpointFixtures + "/stories260k/stories260K.bin")).prefix(10_000)).write(to: URL(fileURLWithPath: truncated))
        #expect { try store.importLlama2c(file: truncated, tokenizer: checkpointFixtures + "/stories260k/tok512.bin") } throws: { "\($0)".contains("implies") }
    }
}
