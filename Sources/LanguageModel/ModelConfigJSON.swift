// config.json ⇄ ModelConfig. Decoding is strict: required keys must be present, every key must be
// known, and keys that would change the model in ways bridge does not implement (sliding window,
// other rope types, MLP biases, other activations) are errors naming the key.

import Foundation
import Tensors

extension ModelConfig {
    /// Decodes a Hugging Face config.json.
    public init(json: Data) throws(ModelError) {
        do {
            self = try JSONDecoder().decode(HFConfig.self, from: json).config
        } catch let e as ModelError {
            throw e
        } catch let DecodingError.typeMismatch(type, context), let DecodingError.valueNotFound(type, context) {
            let key = context.codingPath.map(\.stringValue).joined(separator: ".")
            throw .badValue(key: key, value: "of another type", expected: "\(type)")
        } catch let DecodingError.dataCorrupted(context) {
            throw .invalidJSON(context.debugDescription)
        } catch {
            throw .invalidJSON("\(error)")
        }
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

struct AnyKey: CodingKey {
    var stringValue: String
    var intValue: Int? { nil }
    init(_ s: String) { stringValue = s }
    init?(stringValue: String) { self.stringValue = stringValue }
    init?(intValue: Int) { nil }
}

/// The decoding side of config.json.
struct HFConfig: Decodable {
    let config: ModelConfig

    static let modelKeys: Set<String> = [
        "model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers", "num_attention_heads",
        "num_key_value_heads", "head_dim", "hidden_act", "rms_norm_eps", "rope_theta", "rope_scaling",
        "rope_parameters", "max_position_embeddings", "tie_word_embeddings", "attention_bias", "mlp_bias",
        "bos_token_id", "eos_token_id", "use_sliding_window", "layer_types",
    ]

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        for key in c.allKeys where !HFConfig.modelKeys.contains(key.stringValue) && !ModelConfig.ignoredKeys.contains(key.stringValue) {
            throw ModelError.unknownKey(key.stringValue)
        }
        func required(_ k: String) throws -> Int {
            guard let v = try c.decodeIfPresent(Int.self, forKey: AnyKey(k)) else { throw ModelError.missingKey(k) }
            return v
        }
        func optional<T: Decodable>(_ t: T.Type, _ k: String) throws -> T? { try c.decodeIfPresent(t, forKey: AnyKey(k)) }

        guard let typeName = try optional(String.self, "model_type") else { throw ModelError.missingKey("model_type") }
        guard let family = ModelConfig.Family(rawValue: typeName) else { throw ModelError.unknownModelType(typeName) }

        if let act = try optional(String.self, "hidden_act"), act != "silu" {
            throw ModelError.unsupported(key: "hidden_act", value: "\"\(act)\"", hint: "only silu (SwiGLU) MLPs are implemented")
        }
        if try optional(Bool.self, "mlp_bias") == true {
            throw ModelError.unsupported(key: "mlp_bias", value: "true", hint: "MLP projections without biases only")
        }
        if try optional(Bool.self, "use_sliding_window") == true {
            throw ModelError.unsupported(key: "use_sliding_window", value: "true", hint: "full causal attention only")
        }
        if let types = try optional([String].self, "layer_types"), let bad = types.first(where: { $0 != "full_attention" }) {
            throw ModelError.unsupported(key: "layer_types", value: "\"\(bad)\"", hint: "full_attention layers only")
        }
        let attentionBias = try optional(Bool.self, "attention_bias")
        if family == .qwen2, attentionBias != nil {
            throw ModelError.unknownKey("attention_bias")   // Qwen2 has fixed q/k/v biases
        }

        // Rope: classic rope_theta + rope_scaling, or transformers-5 rope_parameters.
        var theta = try optional(Double.self, "rope_theta")
        var scaling: RopeParameters? = try optional(RopeParameters.self, "rope_scaling")
        if let p = try optional(RopeParameters.self, "rope_parameters") {
            if scaling != nil { throw ModelError.inconsistent("config.json has both rope_scaling and rope_parameters") }
            if let t = p.ropeTheta {
                if let theta, theta != t { throw ModelError.inconsistent("rope_theta \(theta) differs from rope_parameters.rope_theta \(t)") }
                theta = t
            }
            scaling = p
        }
        let llama3 = try scaling?.llama3()

        let heads = try required("num_attention_heads")
        let hidden = try required("hidden_size")
        let eos: [Int]
        if let one = try? c.decodeIfPresent(Int.self, forKey: AnyKey("eos_token_id")) {
            eos = [one]
        } else {
            eos = try optional([Int].self, "eos_token_id") ?? []
        }
        config = ModelConfig(
            modelType: family,
            vocabSize: try required("vocab_size"),
            hiddenSize: hidden,
            intermediateSize: try required("intermediate_size"),
            numHiddenLayers: try required("num_hidden_layers"),
            numAttentionHeads: heads,
            numKeyValueHeads: try optional(Int.self, "num_key_value_heads") ?? heads,
            headDim: try optional(Int.self, "head_dim") ?? (family == .qwen3 ? 128 : hidden / max(heads, 1)),
            rmsNormEps: try optional(Double.self, "rms_norm_eps") ?? 1e-6,
            ropeTheta: theta ?? 10000,
            ropeScaling: llama3,
            maxPositionEmbeddings: try optional(Int.self, "max_position_embeddings") ?? (family == .llama ? 2048 : 32768),
            tieWordEmbeddings: try optional(Bool.self, "tie_word_embeddings") ?? false,
            qkvBias: family == .qwen2 ? true : (attentionBias ?? false),
            outputBias: family == .qwen2 ? false : (attentionBias ?? false),
            bosTokenId: try optional(Int.self, "bos_token_id"),
            eosTokenIds: eos,
            dtype: try optional(String.self, "dtype") ?? optional(String.self, "torch_dtype"))
    }
}

/// rope_scaling / rope_parameters: "default" (no scaling) or "llama3".
struct RopeParameters: Decodable {
    var ropeType: String
    var ropeTheta: Double?
    var factor: Double?
    var lowFreqFactor: Double?
    var highFreqFactor: Double?
    var originalMaxPositionEmbeddings: Int?

    static let known: Set<String> = ["rope_type", "type", "rope_theta", "factor", "low_freq_factor", "high_freq_factor",
                                     "original_max_position_embeddings", "partial_rotary_factor"]

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: AnyKey.self)
        for key in c.allKeys where !RopeParameters.known.contains(key.stringValue) {
            throw ModelError.unknownKey("rope_scaling." + key.stringValue)
        }
        guard let t = try c.decodeIfPresent(String.self, forKey: AnyKey("rope_type")) ?? c.decodeIfPresent(String.self, forKey: AnyKey("type")) else {
            throw ModelError.missingKey("rope_scaling.rope_type")
        }
        if let p = try c.decodeIfPresent(Double.self, forKey: AnyKey("partial_rotary_factor")), p != 1 {
            throw ModelError.unsupported(key: "partial_rotary_factor", value: "\(p)", hint: "rotary embedding over the whole head only")
        }
        ropeType = t
        ropeTheta = try c.decodeIfPresent(Double.self, forKey: AnyKey("rope_theta"))
        factor = try c.decodeIfPresent(Double.self, forKey: AnyKey("factor"))
        lowFreqFactor = try c.decodeIfPresent(Double.self, forKey: AnyKey("low_freq_factor"))
        highFreqFactor = try c.decodeIfPresent(Double.self, forKey: AnyKey("high_freq_factor"))
        originalMaxPositionEmbeddings = try c.decodeIfPresent(Int.self, forKey: AnyKey("original_max_position_embeddings"))
    }

    func llama3() throws -> RoPE.Llama3Scaling? {
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
