// The training/scoring forward pass over B×T tokens (llm.c's gpt2_forward), saving what the
// backward pass needs in `Activations`. N = B·T rows; see Activations for the buffer legend.

import Tensors

extension Transformer {
    /// Runs the model on `tokens` ([B·T], row-major by sequence). With `targets` ([B·T]; negative
    /// = no loss) it computes per-token cross-entropy into `acts.losses` and returns the mean over
    /// rows with a target (nil when there are none). `lora` adds adapters to the projections.
    @discardableResult
    public func forward(tokens: [Int32], targets: [Int32]? = nil, acts: Activations,
                        lora: LoRAAdapter? = nil) throws(ModelError) -> Float? {
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

        let c = config, C = c.hiddenSize, Q = c.qDim, K = c.kvDim, QKV = Q + 2 * K, I = c.intermediateSize
        let Hq = c.numAttentionHeads, Hkv = c.numKeyValueHeads, D = c.headDim
        let eps = Float(c.rmsNormEps)
        let w = params.readPointer
        let shape = AttentionShape(batch: B, time: T, heads: Hq, kvHeads: Hkv, headDim: D)

        acts.tokens.withUnsafeBufferPointer { tok in
            Embedding.forward(out: acts.residual.pointer, ids: tok.baseAddress!, table: w + layout.embedTokens, n: N, c: C)
        }
        for l in 0..<c.numHiddenLayers {
            let P = layout.layers[l]
            let x = acts.residual.pointer + l * N * C
            let ln1 = acts.ln1.pointer + l * N * C
            let qkv = acts.qkv.pointer + l * N * QKV
            let q = acts.q.pointer + l * N * Q, k = acts.k.pointer + l * N * K, v = acts.v.pointer + l * N * K
            let att = acts.att.pointer + l * N * Q
            let mid = acts.residualMid.pointer + l * N * C
            let ln2 = acts.ln2.pointer + l * N * C
            let gu = acts.gateUp.pointer + l * N * 2 * I
            let h = acts.hidden.pointer + l * N * I
            let out = acts.residual.pointer + (l + 1) * N * C

            // attention block
            StepProfile.measure("fwd rmsnorm") { RMSNorm.forward(out: ln1, rstd: acts.rstd1.pointer + l * N, inp: x, weight: w + P.inputNorm, n: N, c: C, eps: eps) }
            StepProfile.measure("fwd qkv matmul") { Linear.forward(out: qkv, inp: ln1, weight: w + P.qkvWeight, bias: P.qkvBias.map { w + $0 }, n: N, inFeatures: C, outFeatures: QKV) }
            loraForward(lora, acts, layer: l, targets: [.q, .k, .v], x: ln1, y: qkv, ldy: QKV, columns: [0, Q, Q + K])
            StepProfile.measure("fwd split/qk-norm/rope") {
                // q, k (normed for Qwen3, then rotated) and v out of the fused qkv rows
                let ropeCos = acts.ropeCos, ropeSin = acts.ropeSin
                parallelChunks(N, minChunk: 16) { rows in
                    ropeCos.withUnsafeBufferPointer { cosTable in
                        ropeSin.withUnsafeBufferPointer { sinTable in
                            let cs = cosTable.baseAddress!, sn = sinTable.baseAddress!
                            for r in rows {
                                let row = qkv + r * QKV, pos = r % T
                                if c.qkNorm {
                                    RMSNorm.forward(out: q + r * Q, rstd: acts.rstdQ.pointer + (l * N + r) * Hq, inp: row, weight: w + P.qNorm!, n: Hq, c: D, eps: eps)
                                    RMSNorm.forward(out: k + r * K, rstd: acts.rstdK.pointer + (l * N + r) * Hkv, inp: row + Q, weight: w + P.kNorm!, n: Hkv, c: D, eps: eps)
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
            StepProfile.measure("fwd attention") { Attention.forward(out: att, probs: acts.probs.pointer + l * B * Hq * T * T, q: q, k: k, v: v, shape: shape) }
            StepProfile.measure("fwd copies") { mid.update(from: x, count: N * C) }
            StepProfile.measure("fwd o matmul") { Linear.forward(out: mid, inp: att, weight: w + P.oWeight, bias: P.oBias.map { w + $0 }, n: N, inFeatures: Q, outFeatures: C, accumulate: true) }
            loraForward(lora, acts, layer: l, targets: [.o], x: att, y: mid, ldy: C, columns: [0])

            // MLP block
            StepProfile.measure("fwd rmsnorm") { RMSNorm.forward(out: ln2, rstd: acts.rstd2.pointer + l * N, inp: mid, weight: w + P.postNorm, n: N, c: C, eps: eps) }
            StepProfile.measure("fwd gate/up matmul") { Linear.forward(out: gu, inp: ln2, weight: w + P.gateUpWeight, bias: nil, n: N, inFeatures: C, outFeatures: 2 * I) }
            loraForward(lora, acts, layer: l, targets: [.gate, .up], x: ln2, y: gu, ldy: 2 * I, columns: [0, I])
            StepProfile.measure("fwd swiglu") {
                parallelChunks(N, minChunk: 16) { rows in
                    for r in rows { SwiGLU.forward(out: h + r * I, gate: gu + r * 2 * I, up: gu + r * 2 * I + I, n: I) }
                }
            }
            StepProfile.measure("fwd copies") { out.update(from: mid, count: N * C) }
            StepProfile.measure("fwd down matmul") { Linear.forward(out: out, inp: h, weight: w + P.downWeight, bias: nil, n: N, inFeatures: I, outFeatures: C, accumulate: true) }
            loraForward(lora, acts, layer: l, targets: [.down], x: h, y: out, ldy: C, columns: [0])
        }
        let last = acts.residual.pointer + c.numHiddenLayers * N * C
        StepProfile.measure("fwd rmsnorm") { RMSNorm.forward(out: acts.lnf.pointer, rstd: acts.rstdf.pointer, inp: last, weight: w + layout.finalNorm, n: N, c: C, eps: eps) }
        StepProfile.measure("fwd lm_head matmul") {
            Linear.forward(out: acts.logits.pointer, inp: acts.lnf.pointer, weight: w + layout.lmHead, bias: nil,
                           n: N, inFeatures: C, outFeatures: c.vocabSize)
        }
        acts.forwardDone = true
        guard targets != nil else { return nil }
        StepProfile.measure("fwd cross-entropy") {
            acts.targets.withUnsafeBufferPointer { t in
                CrossEntropy.forward(losses: acts.losses.pointer, logits: acts.logits.readPointer, targets: t.baseAddress!, n: N, v: c.vocabSize)
            }
        }
        let count = acts.targetCount
        guard count > 0 else { return nil }
        var sum: Double = 0
        for r in 0..<N { sum += Double(acts.losses[r]) }
        return Float(sum / Double(count))
    }

    /// Adds the adapters of `targets` (those the adapter has) on input x to output columns of y.
    func loraForward(_ lora: LoRAAdapter?, _ acts: Activations, layer l: Int, targets: [LoRATarget],
                     x: UnsafePointer<Float>, y: UnsafeMutablePointer<Float>, ldy: Int, columns: [Int]) {
        guard let lora else { return }
        let N = acts.rows, r = lora.config.r
        for (t, col) in zip(targets, columns) {
            guard let slot = lora.config.targetModules.firstIndex(of: t) else { continue }
            let p = lora.layout.layers[l][slot]
            LoRALinear.forward(y: y + col, ldy: ldy, xa: acts.loraXA.pointer + (l * acts.loraTargets + slot) * N * r,
                               x: x, a: lora.params.readPointer + p.a, b: lora.params.readPointer + p.b,
                               n: N, r: r, inFeatures: p.inFeatures, outFeatures: p.outFeatures, scale: lora.config.scale)
        }
    }
}
