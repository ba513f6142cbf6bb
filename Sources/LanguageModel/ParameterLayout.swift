// One flat parameter layout (llm.c's fill_in_parameter_sizes): an ordered list of Hugging Face
// tensor names and shapes with offsets into one contiguous f32 buffer. Gradients and Adam moments
// share the layout. q/k/v weights (and biases) sit back to back so one matmul computes all three;
// gate/up likewise. C hidden, I intermediate, V vocab, Hq/Hkv heads, D head dim.

public struct ParameterLayout: Sendable, Equatable {
    public struct Entry: Sendable, Equatable {
        public let name: String
        public let shape: [Int]
        public let offset: Int
        public var count: Int { shape.reduce(1, *) }
    }

    /// Offsets of one decoder layer's parameters.
    public struct Layer: Sendable, Equatable {
        public var inputNorm = 0
        /// [Hq·D + 2·Hkv·D, C]: q_proj, k_proj, v_proj rows.
        public var qkvWeight = 0
        public var qkvBias: Int?
        public var oWeight = 0
        public var oBias: Int?
        public var qNorm: Int?
        public var kNorm: Int?
        public var postNorm = 0
        /// [2·I, C]: gate_proj then up_proj rows.
        public var gateUpWeight = 0
        public var downWeight = 0
    }

    public let entries: [Entry]
    public let layers: [Layer]
    public let embedTokens: Int
    public let finalNorm: Int
    /// Offset of the output projection: lm_head.weight, or embed_tokens when tied.
    public let lmHead: Int
    public let totalCount: Int
    private let index: [String: Int]

    public init(config c: ModelConfig) {
        var entries: [Entry] = []
        var offset = 0
        func add(_ name: String, _ shape: [Int]) -> Int {
            entries.append(Entry(name: name, shape: shape, offset: offset))
            defer { offset += shape.reduce(1, *) }
            return offset
        }
        let C = c.hiddenSize, I = c.intermediateSize
        embedTokens = add("model.embed_tokens.weight", [c.vocabSize, C])
        var layers: [Layer] = []
        for l in 0..<c.numHiddenLayers {
            let p = "model.layers.\(l)."
            var L = Layer()
            L.inputNorm = add(p + "input_layernorm.weight", [C])
            L.qkvWeight = add(p + "self_attn.q_proj.weight", [c.qDim, C])
            _ = add(p + "self_attn.k_proj.weight", [c.kvDim, C])
            _ = add(p + "self_attn.v_proj.weight", [c.kvDim, C])
            if c.qkvBias {
                L.qkvBias = add(p + "self_attn.q_proj.bias", [c.qDim])
                _ = add(p + "self_attn.k_proj.bias", [c.kvDim])
                _ = add(p + "self_attn.v_proj.bias", [c.kvDim])
            }
            L.oWeight = add(p + "self_attn.o_proj.weight", [C, c.qDim])
            if c.outputBias { L.oBias = add(p + "self_attn.o_proj.bias", [C]) }
            if c.qkNorm {
                L.qNorm = add(p + "self_attn.q_norm.weight", [c.headDim])
                L.kNorm = add(p + "self_attn.k_norm.weight", [c.headDim])
            }
            L.postNorm = add(p + "post_attention_layernorm.weight", [C])
            L.gateUpWeight = add(p + "mlp.gate_proj.weight", [I, C])
            _ = add(p + "mlp.up_proj.weight", [I, C])
            L.downWeight = add(p + "mlp.down_proj.weight", [C, I])
            layers.append(L)
        }
        finalNorm = add("model.norm.weight", [C])
        lmHead = c.tieWordEmbeddings ? embedTokens : add("lm_head.weight", [c.vocabSize, C])
        self.layers = layers
        self.entries = entries
        self.totalCount = offset
        self.index = Dictionary(uniqueKeysWithValues: entries.enumerated().map { ($1.name, $0) })
    }

    public func entry(named name: String) -> Entry? {
        index[name].map { entries[$0] }
    }
}
