// LoRA adapters (Hu et al. 2021) with PEFT's vocabulary and tensor names: `r`, `lora_alpha`,
// `target_modules`; A [r, in] random (kaiming-uniform bound 1/sqrt(in), as PEFT), B [out, r] zero;
// the update is scale·B·A with scale = lora_alpha / r. N rows, r rank.

import Tensors

public enum LoRATarget: String, Sendable, CaseIterable, Codable {
    case q = "q_proj", k = "k_proj", v = "v_proj", o = "o_proj"
    case gate = "gate_proj", up = "up_proj", down = "down_proj"

    var isAttention: Bool { [.q, .k, .v, .o].contains(self) }

    /// The model's fused projections: q, k, v are row blocks of one [Q+2K, C] matrix, gate and up
    /// of one [2I, C] matrix (`ParameterLayout`).
    enum FusedProjection { case qkv, o, gateUp, down }

    /// The fused projection holding this target's rows, and its first row there (= its first
    /// output column in the projection's output).
    func place(_ c: ModelConfig) -> (projection: FusedProjection, firstRow: Int) {
        switch self {
        case .q: (.qkv, 0)
        case .k: (.qkv, c.qDim)
        case .v: (.qkv, c.qDim + c.kvDim)
        case .o: (.o, 0)
        case .gate: (.gateUp, 0)
        case .up: (.gateUp, c.intermediateSize)
        case .down: (.down, 0)
        }
    }

    /// (in, out) features of the wrapped projection.
    func features(_ c: ModelConfig) -> (Int, Int) {
        switch self {
        case .q: (c.hiddenSize, c.qDim)
        case .k, .v: (c.hiddenSize, c.kvDim)
        case .o: (c.qDim, c.hiddenSize)
        case .gate, .up: (c.hiddenSize, c.intermediateSize)
        case .down: (c.intermediateSize, c.hiddenSize)
        }
    }
}

public struct LoRAConfig: Sendable, Equatable {
    public var r: Int
    public var loraAlpha: Double
    /// In the model's order (q, k, v, o, gate, up, down), whatever order they were given in.
    public var targetModules: [LoRATarget]

    public init(r: Int, loraAlpha: Double, targetModules: [LoRATarget]) {
        precondition(r > 0, "LoRA rank must be positive")
        self.r = r
        self.loraAlpha = loraAlpha
        self.targetModules = LoRATarget.allCases.filter { Set(targetModules).contains($0) }
    }

    public var scale: Float { Float(loraAlpha / Double(r)) }
}

/// Names, shapes and offsets of all A and B matrices (one flat buffer, like the base model).
public struct LoRALayout: Sendable, Equatable {
    public struct Pair: Sendable, Equatable {
        public let target: LoRATarget
        public let a: Int
        public let b: Int
        public let inFeatures: Int
        public let outFeatures: Int
    }

    public let entries: [ParameterLayout.Entry]
    /// Per layer, one pair per target module (in `targetModules` order).
    public let layers: [[Pair]]
    public let totalCount: Int

    public init(config c: ModelConfig, lora: LoRAConfig) {
        var entries: [ParameterLayout.Entry] = []
        var offset = 0
        var layers: [[Pair]] = []
        for l in 0..<c.numHiddenLayers {
            var pairs: [Pair] = []
            for t in lora.targetModules {
                let (i, o) = t.features(c)
                let prefix = "base_model.model.model.layers.\(l).\(t.isAttention ? "self_attn" : "mlp").\(t.rawValue)."
                entries.append(.init(name: prefix + "lora_A.weight", shape: [lora.r, i], offset: offset))
                let a = offset
                offset += lora.r * i
                entries.append(.init(name: prefix + "lora_B.weight", shape: [o, lora.r], offset: offset))
                let b = offset
                offset += o * lora.r
                pairs.append(Pair(target: t, a: a, b: b, inFeatures: i, outFeatures: o))
            }
            layers.append(pairs)
        }
        self.entries = entries
        self.layers = layers
        self.totalCount = offset
    }
}

/// The adapter weights w: config, layout and one flat buffer.
public final class LoRAAdapter: @unchecked Sendable {
    public let config: LoRAConfig
    public let layout: LoRALayout
    public let params: FloatBuffer

    public init(config: LoRAConfig, model: ModelConfig, params: FloatBuffer) {
        self.config = config
        self.layout = LoRALayout(config: model, lora: config)
        precondition(params.count == layout.totalCount, "LoRA buffer of \(params.count) floats; layout needs \(layout.totalCount)")
        self.params = params
    }

    /// A ~ U(−1/sqrt(in), 1/sqrt(in)) from Philox(seed), B = 0.
    public convenience init(config: LoRAConfig, model: ModelConfig, seed: UInt64) {
        let layout = LoRALayout(config: model, lora: config)
        let buffer = FloatBuffer(count: layout.totalCount)
        var rng = Philox(seed: seed, stream: 0x4C6F_5241)   // "LoRA"
        for pairs in layout.layers {
            for p in pairs {
                let bound = 1 / Float(p.inFeatures).squareRoot()
                rng.fillUniform(buffer.pointer + p.a, count: config.r * p.inFeatures, low: -bound, high: bound)
            }
        }
        self.init(config: config, model: model, params: buffer)
    }

    func pair(layer: Int, _ t: LoRATarget) -> LoRALayout.Pair? {
        layout.layers[layer].first { $0.target == t }
    }
}

/// Forward and backward of one adapter on one projection: y[:, cols] += scale · (x·Aᵀ)·Bᵀ.
enum LoRALinear {
    /// xa[N,r] = x · Aᵀ (saved); y (row stride ldy) += scale · xa · Bᵀ.
    static func forward(y: UnsafeMutablePointer<Float>, ldy: Int, xa: UnsafeMutablePointer<Float>,
                        x: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                        n: Int, r: Int, inFeatures: Int, outFeatures: Int, scale: Float) {
        BLAS.sgemm(transB: true, m: n, n: r, k: inFeatures, a: x, lda: inFeatures, b: a, ldb: inFeatures, c: xa, ldc: r)
        BLAS.sgemm(transB: true, m: n, n: outFeatures, k: r, alpha: scale, a: xa, lda: r, b: b, ldb: r,
                   beta: 1, c: y, ldc: ldy)
    }

    /// The same as `forward`, each row on its own with fixed-order dot products: a row's result does
    /// not depend on how many rows are computed together (decoding batches sequences in groups whose
    /// size changes with the generation batch; BLAS may round differently for another row count).
    static func forwardByRow(y: UnsafeMutablePointer<Float>, ldy: Int, xa: UnsafeMutablePointer<Float>,
                             x: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                             n: Int, r: Int, inFeatures: Int, outFeatures: Int, scale: Float) {
        for row in 0..<n {
            let xr = x + row * inFeatures, h = xa + row * r, yr = y + row * ldy
            for j in 0..<r { h[j] = VectorMath.dot(xr, a + j * inFeatures, inFeatures) }
            for o in 0..<outFeatures { yr[o] += scale * VectorMath.dot(h, b + o * r, r) }
        }
    }

    /// dB += scale·dyᵀ·xa; dxa = scale·dy·B; dA += dxaᵀ·x; dx += dxa·A.
    static func backward(dx: UnsafeMutablePointer<Float>?, da: UnsafeMutablePointer<Float>?, db: UnsafeMutablePointer<Float>?,
                         dxa: UnsafeMutablePointer<Float>,
                         dy: UnsafePointer<Float>, ldy: Int, xa: UnsafePointer<Float>,
                         x: UnsafePointer<Float>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                         n: Int, r: Int, inFeatures: Int, outFeatures: Int, scale: Float) {
        if let db {
            BLAS.sgemm(transA: true, m: outFeatures, n: r, k: n, alpha: scale, a: dy, lda: ldy, b: xa, ldb: r,
                       beta: 1, c: db, ldc: r)
        }
        BLAS.sgemm(m: n, n: r, k: outFeatures, alpha: scale, a: dy, lda: ldy, b: b, ldb: r, c: dxa, ldc: r)
        if let da {
            BLAS.sgemm(transA: true, m: r, n: inFeatures, k: n, a: dxa, lda: r, b: x, ldb: inFeatures,
                       beta: 1, c: da, ldc: inFeatures)
        }
        if let dx {
            BLAS.sgemm(m: n, n: inFeatures, k: r, a: dxa, lda: r, b: a, ldb: inFeatures, beta: 1, c: dx, ldc: inFeatures)
        }
    }
}
