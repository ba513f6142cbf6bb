// LoRA adapters as tensor sets of their own, apart from the base weights they modify: BRIDGE's w
// is trained against two bases (θ and θ̂) and stored once. Tensors carry PEFT's names
// (`base_model.model.model.layers.L.self_attn.q_proj.lora_A.weight`, …); metadata holds
// {"format": "bridge-lora-adapter", "lora_config": {r, lora_alpha, target_modules, peft_type},
// "base_model_config": <the base's config.json object>} and nothing about a run, so equal
// weights are one object. Export writes PEFT's adapter_model.safetensors + adapter_config.json.

import Foundation
import LanguageModel
import ShardStore
import Tensors

public enum AdapterMetadata {
    public static let format = "bridge-lora-adapter"
    public static let baseConfig = "base_model_config"
}

public enum AdapterError: Error, CustomStringConvertible {
    case notAnAdapter(String)
    case baseMismatch(adapter: String, base: String)
    /// A base given with a separate adapter already carries one.
    case baseHasAdapter(String)

    public var description: String {
        switch self {
        case let .notAnAdapter(what): "\(what) is not a LoRA adapter set (no metadata.format = \(AdapterMetadata.format); hint: create one with 'bridge stage lora-init')"
        case let .baseMismatch(adapter, base): "adapter \(adapter) was made for another base model than \(base) (their model configs differ)"
        case let .baseHasAdapter(base): "model \(base) already carries an adapter; give the base alone with the separate adapter"
        }
    }
}

extension Store {
    /// A fresh adapter for `base`: A ~ U(±1/√in) from the `lora-init` stream of `seed`, B = 0
    /// (so base + adapter computes exactly what the base does).
    public func createAdapter(for base: TensorSet, config: LoRAConfig, seed: UInt64) throws -> TensorSet {
        let modelConfig = try modelConfig(of: base)
        let adapter = LoRAAdapter(config: config, model: modelConfig, seed: Philox.derive(seed: seed, purpose: "lora-init"))
        return try putAdapter(adapter, baseConfig: base.metadata[ModelMetadata.config]!)
    }

    /// Stores adapter weights with their config and the base's config.json object.
    /// `deltaBase`: the set whose same-named tensors are delta base hints (e.g. w before this step).
    public func putAdapter(_ adapter: LoRAAdapter, baseConfig: JSONValue, deltaBase: TensorSet? = nil) throws -> TensorSet {
        let items = adapter.layout.tensors(of: adapter.params).map { (name: $0.0, tensor: $0.1) }
        var set = TensorSet(tensors: try putTensors(items, bases: deltaBase), metadata: [
            "format": .string(AdapterMetadata.format), ModelMetadata.lora: adapter.config.json, AdapterMetadata.baseConfig: baseConfig,
        ])
        set.id = try putTensorSet(set)
        return set
    }

    /// Loads an adapter for a base model of config `model` (its config must be the adapter's
    /// base's); nil: for the base config the adapter records.
    public func loadAdapter(_ set: TensorSet, for model: ModelConfig? = nil, baseName: String = "the base") throws -> LoRAAdapter {
        let name = "tensor set \(set.id?.hex.prefix(12) ?? "")"
        guard set.metadata["format"]?.stringValue == AdapterMetadata.format, let lc = set.metadata[ModelMetadata.lora],
              let bc = set.metadata[AdapterMetadata.baseConfig] else { throw AdapterError.notAnAdapter(name) }
        do {
            let base = try ModelConfig(jsonValue: bc)
            if let model, model != base { throw AdapterError.baseMismatch(adapter: name, base: baseName) }
            let config = try LoRAConfig(json: lc)
            return LoRAAdapter(config: config, model: base, params: try LoRALayout(config: base, lora: config).assemble(try loadTensors(set)))
        } catch let e as ModelError {
            throw ModelCheckpointError.model(e, context: name)
        }
    }

    /// The config.json object of a model set, decoded.
    public func modelConfig(of set: TensorSet) throws -> ModelConfig {
        guard let json = set.metadata[ModelMetadata.config] else {
            throw ModelCheckpointError.notAModel(set.id.map { "tensor set \($0.hex.prefix(12))" } ?? "tensor set")
        }
        do { return try ModelConfig(jsonValue: json) } catch { throw ModelCheckpointError.model(error, context: "model_config of the set") }
    }

    /// A base model set with a separate adapter set, ready to run.
    public func loadModel(_ base: TensorSet, adapter: TensorSet?, verify: Bool = true) throws -> LoadedModel {
        let loaded = try loadModel(base, verify: verify)
        guard let adapter else { return loaded }
        if loaded.adapter != nil {
            throw AdapterError.baseHasAdapter(String(base.id?.hex.prefix(12) ?? ""))
        }
        let w = try loadAdapter(adapter, for: loaded.model.config, baseName: "model \(base.id?.hex.prefix(12) ?? "")")
        return LoadedModel(set: base, model: loaded.model, adapter: w, tokenizerFiles: loaded.tokenizerFiles)
    }

    /// PEFT's adapter files: adapter_model.safetensors (PEFT names) + adapter_config.json.
    public func exportAdapter(_ set: TensorSet, to dir: String) throws {
        guard set.metadata["format"]?.stringValue == AdapterMetadata.format, let lc = set.metadata[ModelMetadata.lora] else {
            throw AdapterError.notAnAdapter("tensor set \(set.id?.hex.prefix(12) ?? "")")
        }
        do { try ExportFile.makeDirectories(dir) } catch {
            throw CheckpointError.io(path: dir, reason: "\(error)")
        }
        try writePEFTAdapter(set.tensors, config: lc, to: dir)
    }

    /// adapter_model.safetensors + adapter_config.json (the keys PEFT's LoraConfig reads).
    func writePEFTAdapter(_ entries: [TensorEntry], config: JSONValue, to dir: String) throws {
        try exportSafetensors(TensorSet(tensors: entries), to: dir + "/adapter_model.safetensors", metadata: ["format": "pt"])
        var adapter = config.objectValue ?? [:]
        adapter["peft_type"] = "LORA"
        adapter["lora_dropout"] = .double(0)
        adapter["bias"] = "none"
        adapter["task_type"] = "CAUSAL_LM"
        adapter["fan_in_fan_out"] = .bool(false)
        adapter["inference_mode"] = .bool(true)
        let text = JSONValue.object(adapter).pretty + "\n"
        do { try ExportFile.write(path: dir + "/adapter_config.json", bytes: Array(text.utf8)) } catch {
            throw CheckpointError.io(path: dir + "/adapter_config.json", reason: "\(error)")
        }
    }
}

extension AdapterError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}
