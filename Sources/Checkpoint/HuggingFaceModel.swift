// `import hf` and `export hf`: a Hugging Face model directory (config.json, model.safetensors or
// a sharded model.safetensors.index.json, tokenizer files: tokenizer.json or a llama2.c
// tokenizer.bin) ⇄ a model tensor set. Import checks names, shapes and dtypes against the config
// before writing anything.

import Foundation
import LanguageModel
import ShardStore
import Tensors

extension Store {
    /// Tokenizer files kept with an imported model when present.
    public static let tokenizerFileNames = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"]

    public func importHuggingFace(directory dir: String) throws -> TensorSet {
        let configPath = dir + "/config.json"
        let configBytes = try readFileBytes(configPath)
        let configJSON: JSONValue
        do { configJSON = try JSONValue(parsing: configBytes) } catch {
            throw ModelCheckpointError.badFile(path: configPath, reason: "not valid JSON: \(error)")
        }
        let config: ModelConfig
        do { config = try ModelConfig(jsonValue: configJSON) } catch { throw ModelCheckpointError.model(error, context: configPath) }
        let layout = ParameterLayout(config: config)

        // Which file holds each tensor.
        var files: [(SafetensorsFile, [SafetensorsEntry])] = []
        let indexPath = dir + "/model.safetensors.index.json"
        if InputFile.exists(indexPath) {
            let index: JSONValue
            do { index = try JSONValue(parsing: try readFileBytes(indexPath)) } catch let e as JSONValue.ParseError {
                throw ModelCheckpointError.badFile(path: indexPath, reason: "not valid JSON: \(e)")
            }
            guard let map = index["weight_map"]?.objectValue else {
                throw ModelCheckpointError.badFile(path: indexPath, reason: "no \"weight_map\" object")
            }
            var byFile: [String: [String]] = [:]
            for (name, file) in map {
                guard let f = file.stringValue, !f.contains("/"), !f.hasPrefix(".") else {
                    throw ModelCheckpointError.badFile(path: indexPath, reason: "weight_map entry '\(name)' names a bad file \(file)")
                }
                byFile[f, default: []].append(name)
            }
            for f in byFile.keys.sorted() {
                let file = try SafetensorsFile(path: dir + "/" + f)
                let wanted = Set(byFile[f]!)
                var chosen: [SafetensorsEntry] = []
                for name in byFile[f]!.sorted() {
                    guard let e = file.entries.first(where: { $0.name == name }) else {
                        throw ModelCheckpointError.badFile(path: dir + "/" + f, reason: "has no tensor '\(name)' although the index names it")
                    }
                    chosen.append(e)
                }
                if let stray = file.names.first(where: { !wanted.contains($0) }) {
                    throw ModelCheckpointError.badFile(path: dir + "/" + f, reason: "holds tensor '\(stray)' that the index does not list")
                }
                files.append((file, chosen))
            }
        } else if InputFile.exists(dir + "/model.safetensors") {
            let file = try SafetensorsFile(path: dir + "/model.safetensors")
            files.append((file, file.entries))
        } else {
            throw ModelCheckpointError.badFile(path: dir, reason: "has neither model.safetensors nor model.safetensors.index.json")
        }

        // Names, shapes and dtypes against the config, before anything is written.
        var given: [String: SafetensorsEntry] = [:]
        for (_, entries) in files { for e in entries { given[e.name] = e } }
        let missing = layout.entries.map(\.name).filter { given[$0] == nil }
        if !missing.isEmpty { throw ModelCheckpointError.model(.missingTensors(missing), context: dir) }
        let tiedHead = config.tieWordEmbeddings ? "lm_head.weight" : ""
        let unused = given.keys.filter { layout.entry(named: $0) == nil && $0 != tiedHead }.sorted()
        if !unused.isEmpty { throw ModelCheckpointError.model(.unusedTensors(unused), context: dir) }
        for (name, e) in given {
            let expected = layout.entry(named: name)?.shape ?? [config.vocabSize, config.hiddenSize]
            if e.shape != expected { throw ModelCheckpointError.model(.shapeMismatch(name: name, expected: expected, got: e.shape), context: dir) }
            if ![.f32, .bf16, .f16].contains(e.dtype) {
                throw ModelCheckpointError.model(.unsupportedDType(name: name, dtype: e.dtype.rawValue), context: dir)
            }
        }

        var tokenizer: [(String, [UInt8])] = []
        for name in Store.tokenizerFileNames where InputFile.exists(dir + "/" + name) {
            tokenizer.append((name, try readFileBytes(dir + "/" + name)))
        }
        // A llama2.c tokenizer.bin (what `export hf` writes for a model that carries one, e.g. a
        // base `bridge train pretrain` made with tok512.bin), kept only when there is no tokenizer.json.
        let binPath = dir + "/tokenizer.bin"
        if !InputFile.exists(dir + "/tokenizer.json"), InputFile.exists(binPath) {
            let bytes = try readFileBytes(binPath)
            try Llama2cTokenizerFile.check(bytes, vocab: config.vocabSize, path: binPath)
            tokenizer.append(("tokenizer.bin", bytes))
        }
        var entries: [TensorEntry] = []
        for (file, chosen) in files { entries += try putTensors(from: file, entries: chosen) }
        entries += try putTokenizerFiles(tokenizer)
        var set = TensorSet(tensors: entries, metadata: [ModelMetadata.config: configJSON, "source": "hf"])
        set.id = try putTensorSet(set)
        return set
    }

    /// Writes config.json + model.safetensors (sharded with an index above `shardBytes`) and the
    /// tokenizer files. An adapter is merged into the weights with `mergeLoRA`, else written
    /// beside them as PEFT's adapter_model.safetensors + adapter_config.json.
    /// `adapter`: a separate adapter set (AdapterSet.swift) for the base `set`, merged or written
    /// as PEFT files the same way.
    public func exportHuggingFace(_ set: TensorSet, adapter: TensorSet? = nil, to dir: String, mergeLoRA: Bool = false,
                                  shardBytes: Int = 4 << 30) throws {
        guard var configJSON = set.metadata[ModelMetadata.config]?.objectValue else {
            throw ModelCheckpointError.notAModel("tensor set \(set.id?.hex.prefix(12) ?? "")")
        }
        do { try ExportFile.makeDirectories(dir) } catch {
            throw CheckpointError.io(path: dir, reason: "\(error)")
        }
        let hasLoRA = set.metadata[ModelMetadata.lora] != nil || adapter != nil
        let baseEntries = set.tensors.filter { !ModelMetadata.isLoRA($0.name) && !ModelMetadata.isTokenizer($0.name) }

        if hasLoRA && mergeLoRA {
            let loaded = try loadModel(set, adapter: adapter)
            let merged = loaded.model.merged(loaded.adapter!)
            let tensors = loaded.model.layout.tensors(of: merged)
            if configJSON["dtype"] != nil { configJSON["dtype"] = "float32" } else { configJSON["torch_dtype"] = "float32" }
            try writeSharded(tensors.map { ($0.0, $0.1.byteCount) }, dir: dir, shardBytes: shardBytes) { names, path in
                let byName = Dictionary(uniqueKeysWithValues: tensors)
                try SafetensorsWriter.write(names.map { ($0, byName[$0]!) }, metadata: ["format": "pt"], to: path)
            }
        } else {
            try writeSharded(baseEntries.map { ($0.name, $0.byteCount) }, dir: dir, shardBytes: shardBytes) { names, path in
                let wanted = Set(names)
                try exportSafetensors(TensorSet(tensors: baseEntries.filter { wanted.contains($0.name) }), to: path, metadata: ["format": "pt"])
            }
            if let adapter {
                if set.metadata[ModelMetadata.lora] != nil { throw AdapterError.baseHasAdapter(String(set.id?.hex.prefix(12) ?? "")) }
                _ = try loadAdapter(adapter, for: try modelConfig(of: set))   // made for this base
                try exportAdapter(adapter, to: dir)
            } else if hasLoRA {
                try writePEFTAdapter(set.tensors.filter { ModelMetadata.isLoRA($0.name) }, config: set.metadata[ModelMetadata.lora]!, to: dir)
            }
        }
        try writeText(JSONValue.object(configJSON).pretty, to: dir + "/config.json")
        for e in set.tensors where ModelMetadata.isTokenizer(e.name) {
            let name = String(e.name.dropFirst(ModelMetadata.tokenizerPrefix.count))
            guard !name.contains("/"), !name.hasPrefix(".") else { continue }
            let t = try loadTensor(e)
            try ExportFile.write(path: dir + "/" + name, bytes: t.buffer.withUnsafeBytes { Array($0) })
        }
    }

    /// One model.safetensors, or shards model-0000k-of-0000n.safetensors + index when larger.
    private func writeSharded(_ sizes: [(String, Int)], dir: String, shardBytes: Int,
                              write: ([String], String) throws -> Void) throws {
        let total = sizes.reduce(0) { $0 + $1.1 }
        if total <= shardBytes {
            try write(sizes.map(\.0), dir + "/model.safetensors")
            return
        }
        var shards: [[String]] = [[]]
        var current = 0
        for (name, bytes) in sizes.sorted(by: { $0.0 < $1.0 }) {
            if current > 0 && current + bytes > shardBytes { shards.append([]); current = 0 }
            shards[shards.count - 1].append(name)
            current += bytes
        }
        var weightMap: [String: JSONValue] = [:]
        for (k, names) in shards.enumerated() {
            let file = String(format: "model-%05d-of-%05d.safetensors", k + 1, shards.count)
            try write(names, dir + "/" + file)
            for n in names { weightMap[n] = .string(file) }
        }
        let index: JSONValue = ["metadata": ["total_size": .int(total)], "weight_map": .object(weightMap)]
        try writeText(index.pretty, to: dir + "/model.safetensors.index.json")
    }

    private func writeText(_ text: String, to path: String) throws {
        do { try ExportFile.write(path: path, bytes: Array((text + "\n").utf8)) } catch {
            throw CheckpointError.io(path: path, reason: "\(error)")
        }
    }
}
