// Activation memory for one batch shape (B sequences × T tokens), allocated once and reused by
// every forward/backward at that shape (llm.c's acts / grads_acts). N = B·T rows, L layers,
// C hidden, Q = Hq·D, K = Hkv·D, I intermediate, V vocab, r LoRA rank.
// The batch is cut into micro-batches of `microBatch` sequences (a function of the batch shape,
// never of the thread count); each micro-batch works on its own rows of every buffer, so up to
// `threads` workers run them side by side with single-threaded kernels.

import Tensors

public final class Activations: @unchecked Sendable {
    public let batch: Int
    public let time: Int
    public var rows: Int { batch * time }
    /// Sequences per micro-batch (the last one may be shorter).
    public let microBatch: Int
    /// Workers for forward/backward (default: `KernelThreads.count`). Results are the same bits
    /// for any value.
    public var threads: Int
    let config: ModelConfig
    let loraRank: Int
    let loraTargets: Int

    // inputs
    var tokens: [Int32]
    var targets: [Int32]
    /// Per-row inverse temperatures of the loss (nil: all 1), see `Transformer.forward`.
    var inverseTemperatures: FloatBuffer?
    let ropeCos: [Float]
    let ropeSin: [Float]

    // saved forward values, per layer where indexed [l]
    let residual: FloatBuffer      // [L+1, N, C] layer inputs; [L] is the last layer's output
    let ln1: FloatBuffer           // [L, N, C]
    let rstd1: FloatBuffer         // [L, N]
    let qkv: FloatBuffer           // [L, N, Q+2K]
    let rstdQ: FloatBuffer         // [L, N, Hq] (Qwen3)
    let rstdK: FloatBuffer         // [L, N, Hkv] (Qwen3)
    let q: FloatBuffer             // [L, N, Q] after norm and RoPE
    let k: FloatBuffer             // [L, N, K]
    let v: FloatBuffer             // [L, N, K]
    let probs: FloatBuffer         // [L, B, Hq, T, T]
    let att: FloatBuffer           // [L, N, Q]
    let residualMid: FloatBuffer   // [L, N, C] after attention
    let ln2: FloatBuffer           // [L, N, C]
    let rstd2: FloatBuffer         // [L, N]
    let gateUp: FloatBuffer        // [L, N, 2I]
    let hidden: FloatBuffer        // [L, N, I] silu(gate)·up
    let lnf: FloatBuffer           // [N, C]
    let rstdf: FloatBuffer         // [N]
    /// [N, V]; after a backward pass it holds dlogits.
    public let logits: FloatBuffer
    public let losses: FloatBuffer // [N]
    let loraXA: FloatBuffer        // [L, targets, N, r]

    // backward scratch (one layer's worth)
    let dResidual: FloatBuffer     // [N, C]
    let dNorm: FloatBuffer         // [N, C]
    let dQKV: FloatBuffer          // [N, Q+2K]
    let dQ: FloatBuffer, dK: FloatBuffer, dV: FloatBuffer
    let dAtt: FloatBuffer          // [N, Q]
    let dGateUp: FloatBuffer       // [N, 2I]
    let dHidden: FloatBuffer       // [N, I]
    let dLoRA: FloatBuffer         // [N, r]
    public let dLosses: FloatBuffer    // [N]

    /// With targets: compute logits (and their gradient) only for rows that have a target, each
    /// micro-batch's such rows packed at the start of its rows of `logits` (the training passes of
    /// RL and SFT, whose prompt and padding rows carry no loss). `logits` then no longer holds one
    /// row per position; the losses do.
    public var logitsForTargetsOnly = false

    /// `logits` become valid after a forward pass; `forwardDone` guards backward.
    var forwardDone = false
    /// Keeps micro-batches adding into shared gradients in micro-batch order.
    let gradientOrder = OrderedSections()

    /// `microBatch` sequences per micro-batch; nil picks `defaultMicroBatch(batch:time:)`.
    public init(config c: ModelConfig, batch: Int, time: Int, lora: LoRAConfig? = nil, microBatch: Int? = nil) {
        precondition(batch > 0 && time > 0)
        precondition((microBatch ?? 1) > 0, "micro-batch must hold at least one sequence")
        self.config = c
        self.batch = batch
        self.time = time
        self.microBatch = min(batch, microBatch ?? Activations.defaultMicroBatch(batch: batch, time: time))
        self.threads = KernelThreads.count
        let N = batch * time, L = c.numHiddenLayers, C = c.hiddenSize
        let Q = c.qDim, K = c.kvDim, I = c.intermediateSize, V = c.vocabSize
        loraRank = lora?.r ?? 0
        loraTargets = lora?.targetModules.count ?? 0
        tokens = Array(repeating: 0, count: N)
        targets = Array(repeating: -100, count: N)
        (ropeCos, ropeSin) = RoPE.tables(invFreq: c.inverseFrequencies, positions: time)

        residual = FloatBuffer(count: (L + 1) * N * C)
        ln1 = FloatBuffer(count: L * N * C)
        rstd1 = FloatBuffer(count: L * N)
        qkv = FloatBuffer(count: L * N * (Q + 2 * K))
        rstdQ = FloatBuffer(count: c.qkNorm ? L * N * c.numAttentionHeads : 0)
        rstdK = FloatBuffer(count: c.qkNorm ? L * N * c.numKeyValueHeads : 0)
        q = FloatBuffer(count: L * N * Q)
        k = FloatBuffer(count: L * N * K)
        v = FloatBuffer(count: L * N * K)
        probs = FloatBuffer(count: L * batch * c.numAttentionHeads * time * time)
        att = FloatBuffer(count: L * N * Q)
        residualMid = FloatBuffer(count: L * N * C)
        ln2 = FloatBuffer(count: L * N * C)
        rstd2 = FloatBuffer(count: L * N)
        gateUp = FloatBuffer(count: L * N * 2 * I)
        hidden = FloatBuffer(count: L * N * I)
        lnf = FloatBuffer(count: N * C)
        rstdf = FloatBuffer(count: N)
        logits = FloatBuffer(count: N * V)
        losses = FloatBuffer(count: N)
        loraXA = FloatBuffer(count: L * loraTargets * N * loraRank)

        dResidual = FloatBuffer(count: N * C)
        dNorm = FloatBuffer(count: N * C)
        dQKV = FloatBuffer(count: N * (Q + 2 * K))
        dQ = FloatBuffer(count: N * Q)
        dK = FloatBuffer(count: N * K)
        dV = FloatBuffer(count: N * K)
        dAtt = FloatBuffer(count: N * Q)
        dGateUp = FloatBuffer(count: N * 2 * I)
        dHidden = FloatBuffer(count: N * I)
        dLoRA = FloatBuffer(count: N * loraRank)
        dLosses = FloatBuffer(count: N)
    }

    /// Float count of all buffers (for reporting memory use).
    public var floatCount: Int {
        [residual, ln1, rstd1, qkv, rstdQ, rstdK, q, k, v, probs, att, residualMid, ln2, rstd2, gateUp, hidden, lnf,
         rstdf, logits, losses, loraXA, dResidual, dNorm, dQKV, dQ, dK, dV, dAtt, dGateUp, dHidden, dLoRA,
         dLosses].reduce(0) { $0 + $1.count }
    }

    /// Sequences per micro-batch when none is given: enough whole sequences for 256 rows (measured
    /// on `bench train`: single-threaded sgemm packs each weight matrix once per product, so 256
    /// rows run 10-15% faster than 128; 512 is no better and balances worse), at most the batch.
    public static func defaultMicroBatch(batch: Int, time: Int) -> Int {
        min(batch, max(1, (256 + time - 1) / time))
    }

    /// The micro-batches as ranges of sequences, in order.
    public var microBatches: [Range<Int>] {
        stride(from: 0, to: batch, by: microBatch).map { $0..<min(batch, $0 + microBatch) }
    }

    /// The rows r0..<r0+n (one micro-batch) whose logits are computed, relative to r0: all of
    /// them, or with `logitsForTargetsOnly` those with a target (in order).
    func logitRows(_ r0: Int, _ n: Int, withLoss: Bool) -> [Int] {
        guard withLoss, logitsForTargetsOnly else { return Array(0..<n) }
        return (0..<n).filter { targets[r0 + $0] >= 0 }
    }

    /// Number of rows with a target (≥ 0).
    public var targetCount: Int { targets.reduce(0) { $0 + ($1 >= 0 ? 1 : 0) } }
}
