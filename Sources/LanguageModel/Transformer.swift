// The decoder-only transformer of the Qwen2 / Llama / Qwen3 families: config, flat parameter
// layout and the parameter buffer θ. Forward and backward live in Transformer+Forward/Backward;
// cached decoding in Transformer+Decode.

import Tensors

public final class Transformer: @unchecked Sendable {
    public let config: ModelConfig
    public let layout: ParameterLayout
    /// θ in `layout` order; may be read-only (a frozen model).
    public let params: FloatBuffer
    /// Memory for the packed weights of `generate` (`DecodeWeights`), kept between calls.
    let decodeBuffer = Locked<FloatBuffer?>(nil)

    public init(config: ModelConfig, params: FloatBuffer) throws(ModelError) {
        try config.validate()
        self.config = config
        self.layout = ParameterLayout(config: config)
        guard params.count == layout.totalCount else {
            throw .inconsistent("parameter buffer holds \(params.count) floats; the config needs \(layout.totalCount)")
        }
        self.params = params
    }

    /// Random weights like transformers' `_init_weights`: N(0, std) for matrices and embeddings,
    /// zero biases, unit norms. Deterministic in `seed`.
    public convenience init(randomWeights config: ModelConfig, seed: UInt64, std: Float = 0.02) throws(ModelError) {
        let layout = ParameterLayout(config: config)
        let buffer = FloatBuffer(count: layout.totalCount)
        var rng = Philox(seed: seed, stream: 0x7468_6574_61)   // "theta"
        for e in layout.entries {
            let p = buffer.pointer + e.offset
            if e.name.hasSuffix("norm.weight") {
                p.update(repeating: 1, count: e.count)
            } else if e.name.hasSuffix(".bias") {
                p.update(repeating: 0, count: e.count)
            } else {
                rng.fillNormal(p, count: e.count, std: std)
            }
        }
        try self.init(config: config, params: buffer)
    }

    /// A model of the same config over another parameter buffer (e.g. after an optimizer step).
    public func with(params: FloatBuffer) throws(ModelError) -> Transformer {
        try Transformer(config: config, params: params)
    }

    /// θ + scale·B·A folded into the wrapped projections (for export). Returns a new buffer.
    public func merged(_ adapter: LoRAAdapter) -> FloatBuffer {
        let out = params.clone()
        let c = config
        for (l, pairs) in adapter.layout.layers.enumerated() {
            let L = layout.layers[l]
            for p in pairs {
                let (projection, first) = p.target.place(c)
                let matrix: Int
                switch projection {
                case .qkv: matrix = L.qkvWeight
                case .o: matrix = L.oWeight
                case .gateUp: matrix = L.gateUpWeight
                case .down: matrix = L.downWeight
                }
                let base = matrix + first * p.inFeatures
                // W[out, in] += scale · B[out, r] · A[r, in]
                BLAS.sgemm(m: p.outFeatures, n: p.inFeatures, k: adapter.config.r, alpha: adapter.config.scale,
                           a: adapter.params.readPointer + p.b, lda: adapter.config.r,
                           b: adapter.params.readPointer + p.a, ldb: p.inFeatures,
                           beta: 1, c: out.pointer + base, ldc: p.inFeatures)
            }
        }
        return out
    }

    /// Checks token ids and sequence length against the config.
    public func check(tokens: some Collection<Int32>, time: Int) throws(ModelError) {
        if time > config.maxPositionEmbeddings {
            throw .sequenceTooLong(length: time, limit: config.maxPositionEmbeddings)
        }
        for t in tokens where t < 0 || Int(t) >= config.vocabSize {
            throw .tokenOutOfVocabulary(id: Int(t), vocab: config.vocabSize)
        }
    }

    /// Runs body(i) for i in 0..<parts (micro-batches, groups of sequences): with several parts, on
    /// up to `threads` workers with single-threaded kernels (parts claimed in order); with one, on
    /// the calling thread with `threads` kernel threads. OpenBLAS always runs single-threaded here:
    /// its threaded products can round differently from its serial ones, while our kernels
    /// compute every element the same way for any split. So the results are the same bits for any
    /// `threads`.
    static func runParts(_ parts: Int, threads: Int, _ body: (Int) -> Void) {
        if parts > 1 {
            parallelWorkers(parts, threads: threads, body)
        } else {
            BLAS.singleThreaded { KernelThreads.limit(to: threads) { body(0) } }
        }
    }

    /// Forward FLOPs per token of the matmuls (2 per multiply-add), excluding attention scores.
    public var matmulFlopsPerToken: Double {
        let c = config
        let perLayer = c.hiddenSize * (c.qDim + 2 * c.kvDim) + c.qDim * c.hiddenSize + 3 * c.hiddenSize * c.intermediateSize
        return 2 * Double(c.numHiddenLayers * perLayer + c.vocabSize * c.hiddenSize)
    }
}
