// Language models in the store. A model is a tensor set whose tensors carry Hugging Face names
// (LoRA adapters, when present, PEFT names), whose metadata holds the config.json object under
// "model_config" (and "lora_config" for an adapter), and which carries its tokenizer files as u8
// tensors named "tokenizer/<file>" so that they live and die with the set (gc follows tensors).

import Foundation
import LanguageModel
import ShardStore
import Tensors

public enum ModelCheckpointError: Error, CustomStringConvertible {
    case notAModel(String)
    case badFile(path: String, reason: String)
    case model(ModelError, context: String)

    public var description: String {
        switch self {
        case let .notAModel(what): "\(what) is not a model (its tensor set has no metadata.model_config; hint: import one with 'bridge import hf')"
        case let .badFile(path, reason): "'\(path)': \(reason)"
        case let .model(e, context): "\(context): \(e)"
        }
    }
}

/// A model loaded from the store, ready to run.
public struct LoadedModel {
    public let set: TensorSet
    public let model: Transformer
    public let adapter: LoRAAdapter?
    /// Tokenizer files carried by the set (file name → bytes), e.g. "tokenizer.json" or "tokenizer.bin".
    public let tokenizerFiles: [String: [UInt8]]
}

public enum ModelMetadata {
    public static let config = "model_config"
    public static let lora = "lora_config"
    public static let tokenizerPrefix = "tokenizer/"
    /// The files a model may carry that hold its tokenizer, in order of preference.
    public static let tokenizerFiles = ["tokenizer.json", "tokenizer.bin"]

    static func isLoRA(_ name: String) -> Bool { name.contains(".lora_A.") || name.contains(".lora_B.") }
    static func isTokenizer(_ name: String) -> Bool { name.hasPrefix(tokenizerPrefix) }
}

extension TensorSet {
    /// The tokenizer file a model set carries (tokenizer.json, else a llama2.c tokenizer.bin).
    public var tokenizerEntry: TensorEntry? {
        ModelMetadata.tokenizerFiles.lazy.compactMap { entry(ModelMetadata.tokenizerPrefix + $0) }.first
    }
}

extension LoRAConfig {
    public var json: JSONValue {
        ["r": .int(r), "lora_alpha": .double(loraAlpha), "target_modules": .array(targetModules.map { .string($0.rawValue) }),
         "peft_type": "LORA"]
    }

    public init(json: JSONValue) throws(ModelError) {
        guard let r = json["r"]?.intValue, r > 0 else { throw .missingKey("lora_config.r") }
        guard let alpha = json["lora_alpha"]?.doubleValue else { throw .missingKey("lora_config.lora_alpha") }
        guard let names = json["target_modules"]?.arrayValue else { throw .missingKey("lora_config.target_modules") }
        var targets: [LoRATarget] = []
        for n in names {
            guard let s = n.stringValue, let t = LoRATarget(rawValue: s) else {
                throw .badValue(key: "lora_config.target_modules", value: "\(n)", expected: "q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj or down_proj")
            }
            targets.append(t)
        }
        self.init(r: r, loraAlpha: alpha, targetModules: targets)
    }
}

extension Store {
    /// Loads θ (converted to f32), the adapter if the set has one, and the tokenizer files.
    public func loadModel(_ set: TensorSet, verify: Bool = true) throws -> LoadedModel {
        let config = try modelConfig(of: set)
        var base: [String: Tensor] = [:], lora: [String: Tensor] = [:], tokenizer: [String: [UInt8]] = [:]
        for (e, t) in zip(set.tensors, try loadTensors(set.tensors, verify: verify)) {
            if ModelMetadata.isTokenizer(e.name) {
                tokenizer[String(e.name.dropFirst(ModelMetadata.tokenizerPrefix.count))] = t.buffer.withUnsafeBytes { Array($0) }
            } else if ModelMetadata.isLoRA(e.name) {
                lora[e.name] = t
            } else {
                base[e.name] = t
            }
        }
        let layout = ParameterLayout(config: config)
        do {
            let model = try Transformer(config: config, params: try layout.assemble(base))
            var adapter: LoRAAdapter?
            if let lc = set.metadata[ModelMetadata.lora] {
                let loraConfig = try LoRAConfig(json: lc)
                adapter = LoRAAdapter(config: loraConfig, model: config,
                                      params: try LoRALayout(config: config, lora: loraConfig).assemble(lora))
            } else if let stray = lora.keys.sorted().first {
                throw ModelError.unusedTensors([stray])
            }
            return LoadedModel(set: set, model: model, adapter: adapter, tokenizerFiles: tokenizer)
        } catch let e as ModelError {
            throw ModelCheckpointError.model(e, context: "tensor set \(set.id?.hex.prefix(12) ?? "")")
        }
    }

    /// Stores θ (f32, HF names) and optionally an adapter as a new model set. Tokenizer tensors and
    /// the config are taken from `like` (same objects, no copies), which is recorded as the parent
    /// unless `recordParent` is false: stages store none, so that equal weights are one object.
    /// `deltaBase`: the set whose same-named tensors are delta base hints (the store's choice).
    public func putModel(params: FloatBuffer, layout: ParameterLayout, adapter: LoRAAdapter? = nil, like base: TensorSet,
                         metadata extra: [String: JSONValue] = [:], recordParent: Bool = true, deltaBase: TensorSet? = nil) throws -> TensorSet {
        var items = layout.tensors(of: params).map { (name: $0.0, tensor: $0.1) }
        if let adapter { items += adapter.layout.tensors(of: adapter.params).map { (name: $0.0, tensor: $0.1) } }
        var entries = try putTensors(items, bases: deltaBase)
        entries += base.tensors.filter { ModelMetadata.isTokenizer($0.name) }
        var metadata = extra
        metadata[ModelMetadata.config] = base.metadata[ModelMetadata.config]
        if let adapter { metadata[ModelMetadata.lora] = adapter.config.json }
        var set = TensorSet(tensors: entries, metadata: metadata, parent: recordParent ? base.id : nil)
        set.id = try putTensorSet(set)
        return set
    }

    /// Stores tokenizer files as u8 tensors "tokenizer/<name>".
    func putTokenizerFiles(_ files: [(String, [UInt8])]) throws -> [TensorEntry] {
        try files.map { name, bytes in
            try bytes.withUnsafeBytes { try putTensor(name: ModelMetadata.tokenizerPrefix + name, dtype: .u8, shape: [bytes.count], bytes: $0) }
        }
    }
}

func readFileBytes(_ path: String) throws -> [UInt8] {
    do { return try InputFile.read(path) } catch { throw ModelCheckpointError.badFile(path: path, reason: error.reason) }
}

extension ModelCheckpointError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}

extension Store {
    /// Stores θ (f32, HF names) of a model made here (no base set to take the config and tokenizer
    /// from): the config as config.json metadata and one tokenizer file.
    public func putNewModel(params: FloatBuffer, config: ModelConfig, tokenizerFile: (name: String, bytes: [UInt8]),
                            metadata extra: [String: JSONValue] = [:]) throws -> TensorSet {
        let layout = ParameterLayout(config: config)
        var entries = try putTensors(layout.tensors(of: params).map { (name: $0.0, tensor: $0.1) })
        entries += try putTokenizerFiles([tokenizerFile])
        var metadata = extra
        metadata[ModelMetadata.config] = try JSONValue(parsing: [UInt8](config.hfConfigJSON()))
        var set = TensorSet(tensors: entries, metadata: metadata)
        set.id = try putTensorSet(set)
        return set
    }
}
