// The model configuration, decoded strictly from a Hugging Face config.json (Qwen2, Llama,
// Qwen3). Both the classic keys of published checkpoints (rope_theta, rope_scaling, torch_dtype)
// and the transformers-5 form (rope_parameters, dtype) are accepted; unknown keys are errors.

import Foundation
import Tensors

public struct ModelConfig: Sendable, Equatable {
    public enum Family: String, Sendable, CaseIterable { case qwen2, llama, qwen3 }

    public var modelType: Family
    public var vocabSize: Int
    public var hiddenSize: Int
    public var intermediateSize: Int
    public var numHiddenLayers: Int
    public var numAttentionHeads: Int
    public var numKeyValueHeads: Int
    public var headDim: Int
    public var rmsNormEps: Double
    public var ropeTheta: Double
    public var ropeScaling: RoPE.Llama3Scaling?
    public var maxPositionEmbeddings: Int
    public var tieWordEmbeddings: Bool
    /// q/k/v projections carry biases (always for Qwen2; `attention_bias` for Llama/Qwen3).
    public var qkvBias: Bool
    /// o_proj carries a bias (`attention_bias` for Llama/Qwen3).
    public var outputBias: Bool
    public var bosTokenId: Int?
    public var eosTokenIds: [Int]
    /// The stored weight dtype named by the config ("bfloat16", "float32", ...), if any.
    public var dtype: String?

    /// Per-head RMSNorm on q and k before RoPE (Qwen3).
    public var qkNorm: Bool { modelType == .qwen3 }
    public var qDim: Int { numAttentionHeads * headDim }
    public var kvDim: Int { numKeyValueHeads * headDim }

    public init(modelType: Family, vocabSize: Int, hiddenSize: Int, intermediateSize: Int, numHiddenLayers: Int,
                numAttentionHeads: Int, numKeyValueHeads: Int, headDim: Int? = nil, rmsNormEps: Double = 1e-6,
                ropeTheta: Double = 10000, ropeScaling: RoPE.Llama3Scaling? = nil, maxPositionEmbeddings: Int = 2048,
                tieWordEmbeddings: Bool = false, qkvBias: Bool? = nil, outputBias: Bool = false,
                bosTokenId: Int? = nil, eosTokenIds: [Int] = [], dtype: String? = nil) {
        self.modelType = modelType
        self.vocabSize = vocabSize
        self.hiddenSize = hiddenSize
        self.intermediateSize = intermediateSize
        self.numHiddenLayers = numHiddenLayers
        self.numAttentionHeads = numAttentionHeads
        self.numKeyValueHeads = numKeyValueHeads
        self.headDim = headDim ?? hiddenSize / numAttentionHeads
        self.rmsNormEps = rmsNormEps
        self.ropeTheta = ropeTheta
        self.ropeScaling = ropeScaling
        self.maxPositionEmbeddings = maxPositionEmbeddings
        self.tieWordEmbeddings = tieWordEmbeddings
        self.qkvBias = qkvBias ?? (modelType == .qwen2)
        self.outputBias = outputBias
        self.bosTokenId = bosTokenId
        self.eosTokenIds = eosTokenIds
        self.dtype = dtype
    }

    /// Checks the numbers fit together.
    public func validate() throws(ModelError) {
        for (k, v) in [("vocab_size", vocabSize), ("hidden_size", hiddenSize), ("intermediate_size", intermediateSize),
                       ("num_hidden_layers", numHiddenLayers), ("num_attention_heads", numAttentionHeads),
                       ("num_key_value_heads", numKeyValueHeads), ("head_dim", headDim),
                       ("max_position_embeddings", maxPositionEmbeddings)] where v <= 0 {
            throw .badValue(key: k, value: String(v), expected: "a positive integer")
        }
        // Bounds far above any published model: a config.json is outside input, and the shapes it
        // implies drive loops and allocations (within these, no shape product overflows an Int).
        for (k, v, limit) in [("vocab_size", vocabSize, 1 << 24), ("hidden_size", hiddenSize, 1 << 16),
                              ("intermediate_size", intermediateSize, 1 << 20), ("num_hidden_layers", numHiddenLayers, 1 << 12),
                              ("num_attention_heads", numAttentionHeads, 1 << 12), ("num_key_value_heads", numKeyValueHeads, 1 << 12),
                              ("head_dim", headDim, 1 << 12), ("max_position_embeddings", maxPositionEmbeddings, 1 << 24)] where v > limit {
            throw .badValue(key: k, value: String(v), expected: "at most \(limit)")
        }
        if numAttentionHeads % numKeyValueHeads != 0 {
            throw .inconsistent("num_attention_heads \(numAttentionHeads) is not a multiple of num_key_value_heads \(numKeyValueHeads)")
        }
        if headDim % 2 != 0 { throw .inconsistent("head_dim \(headDim) must be even for rotary embeddings") }
        if !(rmsNormEps > 0) { throw .badValue(key: "rms_norm_eps", value: "\(rmsNormEps)", expected: "a positive number") }
        if !(ropeTheta > 0) { throw .badValue(key: "rope_theta", value: "\(ropeTheta)", expected: "a positive number") }
        for id in eosTokenIds + (bosTokenId.map { [$0] } ?? []) where id < 0 || id >= vocabSize {
            throw .inconsistent("special token id \(id) is outside the vocabulary of \(vocabSize)")
        }
        if parameterCount > ModelConfig.maxParameters {
            throw .inconsistent("the config describes \(parameterCount) parameters, more than the \(ModelConfig.maxParameters) bridge loads")
        }
    }

    /// The rotary inverse frequencies this config implies.
    public var inverseFrequencies: [Float] {
        RoPE.inverseFrequencies(headDim: headDim, theta: ropeTheta, llama3: ropeScaling)
    }

    /// The largest model `validate` accepts (2^40 parameters, 4 TiB of f32).
    public static let maxParameters = 1 << 40

    /// Parameters in the model (tied embeddings counted once).
    public var parameterCount: Int { ParameterLayout(config: self).totalCount }
}
