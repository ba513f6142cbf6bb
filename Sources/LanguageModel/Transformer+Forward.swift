// The training/scoring forward pass over B×T tokens (llm.c's gpt2_forward), saving what the
// backward pass needs in `Activations`. N = B·T rows; see Activations for the buffer legend.
// Micro-batches (whole sequences, rows r0..<r1 of every buffer) run side by side on workers.

import Tensors

extension Transformer {
    /// Runs the model on `tokens` ([B·T], row-major by sequence). With `targets` ([B·T]; negative
    /// = no loss) it computes per-token cross-entropy into `acts.losses` and returns the mean over
    /// rows with a target (nil when there are none). `lora` adds adapters to the projections.
    /// `inverseTemperatures` ([B·T], optional) scales each row's logits before the loss, so that
    /// losses[r] = −log softmax(logits[r]/T_r)[target] (GRPO's log-probs at the sampling temperature);
    /// the backward pass uses the same scales.
    @discardableResult
    public func forward(tokens: [Int32], targets: [Int32]? = nil, acts: Activations,
                        lora: LoRAAdapter? = nil, inverseTemperatures: [Float]? = nil) throws(ModelError) -> Float? {
        let B = acts.batch, T = acts.time, N = B * T
        precondition(tokens.count == N, "expected \(N) tokens (\(B)×\(T)), got \(tokens.count)")
        precondition(acts.config == config, "activations were sized for another config")
        precondition((lora?.config.r ?? 0) == acts.loraRank && (lora?.config.targetModules.count ?? 0) == acts.loraTargets,
                     "activations were sized for another LoRA config")
        try check(tokens: tokens, time: T)
        if let targets {
            precondition(targets.count == N)
            for t in targets where Int(t) >= config.vocabSize {
                throw .tokenOutOfVocabulary(id: Int(t), vocab: config.vocabSize)
            }
            acts.targets = targets
        } else {
            acts.targets = Array(repeating: -100, count: N)
        }
        acts.tokens = tokens
        precondition(inverseTemperatures.map { $0.count == N && $0.allSatisfy { $0 > 0 } } ?? true, "one positive inverse temperature per row")
        acts.inverseTemperatures = inverseTemperatures.map { FloatBuffer($0) }
        let withLoss = targets != nil
        eachMicroBatch(acts) { _, sequences in
            forwardRows(acts, sequences: sequences, lora: lora, withLoss: withLoss)
        }
        acts.forwardDone = true
        guard withLoss else { return nil }
        let count = acts.targetCount
        guard count > 0 else { return nil }
        var sum: Double = 0
        for r in 0..<N { sum += Double(acts.losses[r]) }
        return Float(sum / Double(count))
    }

    /// Runs body(index, sequences) for every micro-batch (see `runParts`).
    func eachMicroBatch(_ acts: Activations, _ body: (Int, Range<Int>) -> Void) {
        let parts = acts.microBatches
        Transformer.runParts(parts.count, threads: acts.threads) { body($0, parts[$0]) }
    }

    /// The forward pass of sequences b0..<b1 (rows b0·T..<b1·T of every buffer).
    func forwardRows(_ acts: Activations, sequences: Range<Int>, lora: LoRAAdapter?, withLoss: Bool) {
        let B = acts.batch, T = acts.time, N = B * T
        let r0 = sequences.lowerBound * T, n = sequences.count * T
        let c = config, C = c.hiddenSize, Q = c.qDim, K = c.kvDim, QKV = Q + 2 * K, I = c.intermediateSize
        let Hq = c.numAttentionHeads, Hkv = c.numKeyValueHeads, D = c.headDim
        let eps = Float(c.rmsNormEps)
        let w = params.readPointer
        let shape = AttentionShape(batch: sequences.count, time: T, heads: Hq, kvHeads: Hkv, headDim: D)
        /// Rows of this micro-batch in layer l of a [L, N, width] buffer.
        func at(_ buffer: FloatBuffer, _ l: Int, _ width: Int) -> UnsafeMutablePointer<Float> {
            buffer.pointer + (l * N + r0) * width
        }

        acts.tokens.withUnsafeBufferPointer { tok in
            Embedding.forward(out: at(acts.residual, 0, C), ids: tok.baseAddress! + r0, table: w + layout.embedTokens, n: n, c: C)
        }
        for l in 0..<c.numHiddenLayers {
            let P = layout.layers[l]
            let x = at(acts.residual, l, C)
            let ln1 = at(acts.ln1, l, C)
            let qkv = at(acts.qkv, l, QKV)
            let q = at(acts.q, l, Q), k = at(acts.k, l, K), v = at(acts.v, l, K)
            let att = at(acts.att, l, Q)
            let mid = at(acts.residualMid, l, C)
            let ln2 = at(acts.ln2, l, C)
            let gu = at(acts.gateUp, l, 2 * I)
            let h = at(acts.hidden, l, I)
            let out = at(acts.residual, l + 1, C)

            // attention block
            StepProfile.measure("fwd rmsnorm") { RMSNorm.forward(out: ln1, rstd: at(acts.rstd1, l, 1), inp: x, weight: w + P.inputNorm, n: n, c: C, eps: eps) }
            StepProfile.measure("fwd qkv matmul") { Linear.forward(out: qkv, inp: ln1, weight: w + P.qkvWeight, bias: P.qkvBias.map { w + $0 }, n: n, inFeatures: C, outFeatures: QKV) }
            loraForward(lora, acts, layer: l, rows: r0, n, targets: [.q, .k, .v], x: ln1, y: qkv, ldy: QKV)
            StepProfile.measure("fwd split/qk-norm/rope") {
                // q, k (normed for Qwen3, then rotated) and v out of the fused qkv rows
                let rstdQ = c.qkNorm ? at(acts.rstdQ, l, Hq) : nil, rstdK = c.qkNorm ? at(acts.rstdK, l, Hkv) : nil
                acts.ropeCos.withUnsafeBufferPointer { cosTable in
                    acts.ropeSin.withUnsafeBufferPointer { sinTable in
                        let cs = cosTable.baseAddress!, sn = sinTable.baseAddress!
                        parallelChunks(n, minChunk: 16) { rows in
                            for r in rows {
                                let row = qkv + r * QKV, pos = r % T
                                if let rstdQ, let rstdK {
                                    RMSNorm.forward(out: q + r * Q, rstd: rstdQ + r * Hq, inp: row, weight: w + P.qNorm!, n: Hq, c: D, eps: eps)
                                    RMSNorm.forward(out: k + r * K, rstd: rstdK + r * Hkv, inp: row + Q, weight: w + P.kNorm!, n: Hkv, c: D, eps: eps)
                                    RoPE.rotateRow(out: q + r * Q, inp: q + r * Q, position: pos, cos: cs, sin: sn, heads: Hq, headDim: D, sign: 1)
                                    RoPE.rotateRow(out: k + r * K, inp: k + r * K, position: pos, cos: cs, sin: sn, heads: Hkv, headDim: D, sign: 1)
                                } else {
                                    RoPE.rotateRow(out: q + r * Q, inp: row, position: pos, cos: cs, sin: sn, heads: Hq, headDim: D, sign: 1)
                                    RoPE.rotateRow(out: k + r * K, inp: row + Q, position: pos, cos: cs, sin: sn, heads: Hkv, headDim: D, sign: 1)
                                }
                                (v + r * K).update(from: row + Q + K, count: K)
                            }
                        }
                    }
                }
            }
            let probs = acts.probs.pointer + (l * B + sequences.lowerBound) * Hq * T * T
            StepProfile.measure("fwd attention") { Attention.forward(out: att, probs: probs, q: q, k: k, v: v, shape: shape) }
            StepProfile.measure("fwd copies") { mid.update(from: x, count: n * C) }
            StepProfile.measure("fwd o matmul") { Linear.forward(out: mid, inp: att, weight: w + P.oWeight, bias: P.oBias.map { w + $0 }, n: n, inFeatures: Q, outFeatures: C, accumulate: true) }
            loraForward(lora, acts, layer: l, rows: r0, n, targets: [.o], x: att, y: mid, ldy: C)

            // MLP block
            StepProfile.measure("fwd rmsnorm") { RMSNorm.forward(out: ln2, rstd: at(acts.rstd2, l, 1), inp: mid, weight: w + P.postNorm, n: n, c: C, eps: eps) }
            StepProfile.measure("fwd gate/up matmul") { Linear.forward(out: gu, inp: ln2, weight: w + P.gateUpWeight, bias: nil, n: n, inFeatures: C, outFeatures: 2 * I) }
            loraForward(lora, acts, layer: l, rows: r0, n, targets: [.gate, .up], x: ln2, y: gu, ldy: 2 * I)
            StepProfile.measure("fwd swiglu") {
                parallelChunks(n, minChunk: 16) { rows in
                    for r in rows { SwiGLU.forward(out: h + r * I, gate: gu + r * 2 * I, up: gu + r * 2 * I + I, n: I) }
                }
            }
            StepProfile.measure("fwd copies") { out.update(from: mid, count: n * C) }
            StepProfile.measure("fwd down matmul") { Linear.forward(out: out, inp: h, weight: w + P.downWeight, bias: nil, n: n, inFeatures: I, outFeatures: C, accumulate: true) }
            loraForward(lora, acts, layer: l, rows: r0, n, targets: [.down], x: h, y: out, ldy: C)
        }
        let last = at(acts.residual, c.numHiddenLayers, C)
        let lnf = acts.lnf.pointer + r0 * C, logits = acts.logits.pointer + r0 * c.vocabSize
        StepProfile.measure("fwd rmsnorm") { RMSNorm.forward(out: lnf, rstd: acts.rstdf.pointer + r0, inp: last, weight: w + layout.finalNorm, n: n, c: C, eps: eps) }
        // only the rows with a loss go through the vocabulary when asked: their final-norm outputs
        // move to the front (lnf is kept so, for lm_head's weight gradient)
        let kept = acts.logitRows(r0, n, withLoss: withLoss)
        for (k, j) in kept.enumerated() where k != j { (lnf + k * C).update(from: lnf + j * C, count: C) }
        let m = kept.count
        StepProfile.measure("fwd lm_head matmul") {
            Linear.forward(out: logits, inp: lnf, weight: w + layout.lmHead, bias: nil, n: m, inFeatures: C, outFeatures: c.vocabSize)
        }
        guard withLoss else { return }
        StepProfile.measure("fwd cross-entropy") {
            let targets = kept.map { acts.targets[r0 + $0] }, scales = acts.inverseTemperatures.map { t in kept.map { t[r0 + $0] } }
            var losses = [Float](repeating: 0, count: m)
            CrossEntropy.forward(losses: &losses, logits: logits, targets: targets, n: m, v: c.vocabSize, scales: scales)
            (acts.losses.pointer + r0).update(repeating: 0, count: n)
            for (k, j) in kept.enumerated() { acts.losses[r0 + j] = losses[k] }
        }
    }

    /// Adds the adapters of `targets` (those the adapter has) on input x to their output columns of
    /// y (`LoRATarget.place`), for the n rows starting at row r0.
    func loraForward(_ lora: LoRAAdapter?, _ acts: Activations, layer l: Int, rows r0: Int, _ n: Int, targets: [LoRATarget],
                     x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int) {
        guard let lora else { return }
        let N = acts.rows, r = lora.config.r
        StepProfile.measure("fwd lora") {
            for t in targets {
                guard let slot = lora.config.targetModules.firstIndex(of: t) else { continue }
                let p = lora.layout.layers[l][slot]
                LoRALinear.forward(y: y + t.place(config).firstRow, ldy: ldy, xa: acts.loraXA.pointer + (l * acts.loraTargets + slot) * N * r + r0 * r,
                                   x: x, a: lora.params.readPointer + p.a, b: lora.params.readPointer + p.b,
                                   n: n, r: r, inFeatures: p.inFeatures, outFeatures: p.outFeatures, scale: lora.config.scale)
            }
        }
    }
}
