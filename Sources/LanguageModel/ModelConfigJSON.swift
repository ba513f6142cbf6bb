// config.json ⇄ ModelConfig. Decoding is strict: required keys must be present, every key must be
// known, and keys that would change the model in ways bridge does not implement (sliding window,
// other rope types, MLP biases, other activations) are errors naming the key. The text is read by
// IO's JSONValue (errors give the line and column).

import Foundation
import IO
import Tensors

extension ModelConfig {
    /// Decodes a Hugging Face config.json.
    public init(json: Data) throws(ModelError) {
        let value: JSONValue
        do { value = try JSONValue(parsing: [UInt8](json)) } catch { throw .invalidJSON("\(error)") }
        try self.init(jsonValue: value)
    }

    /// Decodes a parsed config.json (also the object kept in a model set's metadata).
    public init(jsonValue: JSONValue) throws(ModelError) {
        guard let fields = jsonValue.objectValue else { throw .invalidJSON("the top level is not an object") }
        self = try HFConfig.decode(ConfigObject(fields: fields, path: ""))
        try validate()
    }

    /// Keys a config.json may carry that do not change the forward pass.
    static let ignoredKeys: Set<String> = [
        "architectures", "transformers_version", "torch_dtype", "dtype", "use_cache", "initializer_range",
        "attention_dropout", "pad_token_id", "_name_or_path", "max_window_layers", "sliding_window", "pretraining_tp",
        "output_attentions", "output_hidden_states", "return_dict", "torchscript", "id2label", "label2id",
        "problem_type", "tokenizer_class", "prefix", "sep_token_id", "decoder_start_token_id", "task_specific_params",
        "is_decoder", "is_encoder_decoder", "add_cross_attention", "tie_encoder_decoder", "chunk_size_feed_forward",
        "finetuning_task", "cross_attention_hidden_size", "pruned_heads", "bad_words_ids", "begin_suppress_tokens",
        "diversity_penalty", "do_sample", "early_stopping", "encoder_no_repeat_ngram_size",
        "exponential_decay_length_penalty", "forced_bos_token_id", "forced_eos_token_id", "length_penalty",
        "max_length", "min_length", "no_repeat_ngram_size", "num_beam_groups", "num_beams", "num_return_sequences",
        "output_scores", "remove_invalid_values", "repetition_penalty", "return_dict_in_generate", "suppress_tokens",
        "temperature", "top_k", "top_p", "typical_p", "use_bfloat16", "tf_legacy_loss", "torch_dtype",
    ]

    /// The config.json for this model in the classic form of published checkpoints (rope_theta,
    /// rope_scaling, torch_dtype), which transformers 4 and 5 both load. Keys sorted.
    public func hfConfigJSON(dtype: String = "float32") -> Data {
        var o: [String: Any] = [
            "architectures": [architecture],
            "model_type": modelType.rawValue,
            "vocab_size": vocabSize,
            "hidden_size": hiddenSize,
            "intermediate_size": intermediateSize,
            "num_hidden_layers": numHiddenLayers,
            "num_attention_heads": numAttentionHeads,
            "num_key_value_heads": numKeyValueHeads,
            "head_dim": headDim,
            "hidden_act": "silu",
            "rms_norm_eps": rmsNormEps,
            "rope_theta": ropeTheta,
            "max_position_embeddings": maxPositionEmbeddings,
            "tie_word_embeddings": tieWordEmbeddings,
            "torch_dtype": dtype,
            "use_cache": true,
            "attention_dropout": 0.0,
        ]
        if let s = ropeScaling {
            o["rope_scaling"] = ["rope_type": "llama3", "factor": s.factor, "low_freq_factor": s.lowFreqFactor,
                                 "high_freq_factor": s.highFreqFactor,
                                 "original_max_position_embeddings": s.originalMaxPositionEmbeddings] as [String: Any]
        } else {
            o["rope_scaling"] = NSNull()
        }
        switch modelType {
        case .qwen2:
            o["use_sliding_window"] = false
        case .llama, .qwen3:
            o["attention_bias"] = qkvBias
            if modelType == .llama { o["mlp_bias"] = false }
            if modelType == .qwen3 { o["use_sliding_window"] = false }
        }
        o["bos_token_id"] = bosTokenId ?? NSNull()
        switch eosTokenIds.count {
        case 0: o["eos_token_id"] = NSNull()
        case 1: o["eos_token_id"] = eosTokenIds[0]
        default: o["eos_token_id"] = eosTokenIds
        }
        // JSONSerialization of a dictionary of plain values cannot fail.
        return try! JSONSerialization.data(withJSONObject: o, options: [.sortedKeys, .prettyPrinted])
    }

    public var architecture: String {
        switch modelType {
        case .qwen2: "Qwen2ForCausalLM"
        case .llama: "LlamaForCausalLM"
        case .qwen3: "Qwen3ForCausalLM"
        }
    }
}

/// One object of config.json with typed access to its keys. A null value is an absent key (as
/// transformers writes `"rope_scaling": null`); a value of another type is an error naming the key.
/// Numbers read as integers when their value is one (`8.0`, `1e3`), as doubles whichever way spelt.
struct ConfigObject {
    let fields: [String: JSONValue]
    /// The dotted path of this object ("" at the top level) for errors.
    let path: String

    var keys: [String] { fields.keys.sorted() }

    func name(_ k: String) -> String { path.isEmpty ? k : path + "." + k }

    func value(_ k: String) -> JSONValue? {
        guard let v = fields[k], v != .null else { return nil }
        return v
    }

    func mismatch(_ k: String, _ expected: String) -> ModelError {
        .badValue(key: name(k), value: "of another type", expected: expected)
    }

    static func integer(_ v: JSONValue) -> Int?? {
        switch v {
        case let .int(i): return i
        case let .double(d): return .some(Int(exactly: d))
        default: return nil
        }
    }

    func int(_ k: String) throws(ModelError) -> Int? {
        guard let v = value(k) else { return nil }
        guard let number = Self.integer(v) else { throw mismatch(k, "Int") }
        guard let i = number else { throw .badValue(key: name(k), value: v.canonical, expected: "Int") }
        return i
    }

    func required(_ k: String) throws(ModelError) -> Int {
        guard let v = try int(k) else { throw .missingKey(name(k)) }
        return v
    }

    func double(_ k: String) throws(ModelError) -> Double? {
        guard let v = value(k) else { return nil }
        guard let d = v.doubleValue else { throw mismatch(k, "Double") }
        return d
    }

    func bool(_ k: String) throws(ModelError) -> Bool? {
        guard let v = value(k) else { return nil }
        guard let b = v.boolValue else { throw mismatch(k, "Bool") }
        return b
    }

    func string(_ k: String) throws(ModelError) -> String? {
        guard let v = value(k) else { return nil }
        guard let s = v.stringValue else { throw mismatch(k, "String") }
        return s
    }

    func strings(_ k: String) throws(ModelError) -> [String]? {
        guard let v = value(k) else { return nil }
        guard let items = v.arrayValue else { throw mismatch(k, "Array<String>") }
        var out: [String] = []
        for item in items {
            guard let s = item.stringValue else { throw mismatch(k, "Array<String>") }
            out.append(s)
        }
        return out
    }

    func ints(_ k: String) throws(ModelError) -> [Int]? {
        guard let v = value(k) else { return nil }
        guard let items = v.arrayValue else { throw mismatch(k, "Array<Int>") }
        var out: [Int] = []
        for item in items {
            guard let number = Self.integer(item), let i = number else { throw mismatch(k, "Array<Int>") }
            out.append(i)
        }
        return out
    }

    func object(_ k: String) throws(ModelError) -> ConfigObject? {
        guard let v = value(k) else { return nil }
        guard let o = v.objectValue else { throw mismatch(k, "Dictionary<String, Any>") }
        return ConfigObject(fields: o, path: name(k))
    }
}

/// The decoding side of config.json.
enum HFConfig {
    static let modelKeys: Set<String> = [
        "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "head_dim", "hidden_act", "rms_norm_eps", "rope_theta", "rope_scaling",
        "rope_parameters", "max_position_embeddings", "tie_word_embeddings", "attention_bias", "mlp_bias",
        "bos_token_id", "eos_token_id", "use_sliding_window", "layer_types",
    ]

    static func decode(_ c: ConfigObject) throws(ModelError) -> ModelConfig {
        for key in c.keys where !HFConfig.modelKeys.contains(key) && !ModelConfig.ignoredKeys.contains(key) {
            throw ModelError.unknownKey(key)
        }

        guard let typeName = try c.string("model_type") else { throw ModelError.missingKey("model_type") }
        guard let family = ModelConfig.Family(rawValue: typeName) else { throw ModelError.unknownModelType(typeName) }

        if let act = try c.string("hidden_act"), act != "silu" {
            throw ModelError.unsupported(key: "hidden_act", value: "\"\(act)\"", hint: "only silu (SwiGLU) MLPs are implemented")
        }
        if try c.bool("mlp_bias") == true {
            throw ModelError.unsupported(key: "mlp_bias", value: "true", hint: "MLP projections without biases only")
        }
        if try c.bool("use_sliding_window") == true {
            throw ModelError.unsupported(key: "use_sliding_window", value: "true", hint: "full causal attention only")
        }
        if let types = try c.strings("layer_types"), let bad = types.first(where: { $0 != "full_attention" }) {
            throw ModelError.unsupported(key: "layer_types", value: "\"\(bad)\"", hint: "full_attention layers only")
        }
        let attentionBias = try c.bool("attention_bias")
        if family == .qwen2, attentionBias != nil {
            throw ModelError.unknownKey("attention_bias")   // Qwen2 has fixed q/k/v biases
        }

        // Rope: classic rope_theta + rope_scaling, or transformers-5 rope_parameters.
        var theta = try c.double("rope_theta")
        var scaling: RopeParameters? = try c.object("rope_scaling").map { (o) throws(ModelError) in try RopeParameters(o) }
        if let p = try c.object("rope_parameters").map({ (o) throws(ModelError) in try RopeParameters(o) }) {
            if scaling != nil { throw ModelError.inconsistent("config.json has both rope_scaling and rope_parameters") }
            if let t = p.ropeTheta {
                if let theta, theta != t { throw ModelError.inconsistent("rope_theta \(theta) differs from rope_parameters.rope_theta \(t)") }
                theta = t
            }
            scaling = p
        }
        let llama3 = try scaling?.llama3()

        let heads = try c.required("num_attention_heads")
        let hidden = try c.required("hidden_size")
        let eos: [Int]
        if let v = c.value("eos_token_id"), let number = ConfigObject.integer(v), let one = number {
            eos = [one]
        } else {
            eos = try c.ints("eos_token_id") ?? []
        }
        var dtype = try c.string("dtype")
        if dtype == nil { dtype = try c.string("torch_dtype") }
        return ModelConfig(
            modelType: family,
            vocabSize: try c.required("vocab_size"),
            hiddenSize: hidden,
            intermediateSize: try c.required("intermediate_size"),
            numHiddenLayers: try c.required("num_hidden_layers"),
            numAttentionHeads: heads,
            numKeyValueHeads: try c.int("num_key_value_heads") ?? heads,
            headDim: try c.int("head_dim") ?? (family == .qwen3 ? 128 : hidden / max(heads, 1)),
            rmsNormEps: try c.double("rms_norm_eps") ?? 1e-6,
            ropeTheta: theta ?? 10000,
            ropeScaling: llama3,
            maxPositionEmbeddings: try c.int("max_position_embeddings") ?? (family == .llama ? 2048 : 32768),
            tieWordEmbeddings: try c.bool("tie_word_embeddings") ?? false,
            qkvBias: family == .qwen2 ? true : (attentionBias ?? false),
            outputBias: family == .qwen2 ? false : (attentionBias ?? false),
            bosTokenId: try c.int("bos_token_id"),
            eosTokenIds: eos,
            dtype: dtype)
    }
}

/// rope_scaling / rope_parameters: "default" (no scaling) or "llama3".
struct RopeParameters {
    var ropeType: String
    var ropeTheta: Double?
    var factor: Double?
    var lowFreqFactor: Double?
    var highFreqFactor: Double?
    var originalMaxPositionEmbeddings: Int?

    static let known: Set<String> = ["rope_type", "type", "rope_theta", "factor", "low_freq_factor", "high_freq_factor",
                                     "original_max_position_embeddings", "partial_rotary_factor"]

    init(_ c: ConfigObject) throws(ModelError) {
        for key in c.keys where !RopeParameters.known.contains(key) {
            throw ModelError.unknownKey("rope_scaling." + key)
        }
        var typeName = try c.string("rope_type")
        if typeName == nil { typeName = try c.string("type") }
        guard let t = typeName else {
            throw ModelError.missingKey("rope_scaling.rope_type")
        }
        if let p = try c.double("partial_rotary_factor"), p != 1 {
            throw ModelError.unsupported(key: "partial_rotary_factor", value: "\(p)", hint: "rotary embedding over the whole head only")
        }
        ropeType = t
        ropeTheta = try c.double("rope_theta")
        factor = try c.double("factor")
        lowFreqFactor = try c.double("low_freq_factor")
        highFreqFactor = try c.double("high_freq_factor")
        originalMaxPositionEmbeddings = try c.int("original_max_position_embeddings")
    }

    func llama3() throws(ModelError) -> RoPE.Llama3Scaling? {
        switch ropeType {
        case "default": return nil
        case "llama3":
            guard let factor else { throw ModelError.missingKey("rope_scaling.factor") }
            guard let lowFreqFactor else { throw ModelError.missingKey("rope_scaling.low_freq_factor") }
            guard let highFreqFactor else { throw ModelError.missingKey("rope_scaling.high_freq_factor") }
            guard let originalMaxPositionEmbeddings else { throw ModelError.missingKey("rope_scaling.original_max_position_embeddings") }
            guard highFreqFactor > lowFreqFactor, factor > 0 else {
                throw ModelError.inconsistent("llama3 rope scaling needs factor > 0 and high_freq_factor > low_freq_factor")
            }
            return RoPE.Llama3Scaling(factor: factor, lowFreqFactor: lowFreqFactor, highFreqFactor: highFreqFactor,
                                      originalMaxPositionEmbeddings: originalMaxPositionEmbeddings)
        default:
            throw ModelError.unsupported(key: "rope_scaling.rope_type", value: "\"\(ropeType)\"", hint: "supported: default, llama3")
        }
    }
}
