// The hand-written backward pass (llm.c's gpt2_backward) through every layer, in reverse.
// Parameter gradients accumulate into `grads` (θ layout) and `loraGrads` (w layout); zero them
// once per accumulation window. Activation gradients use the scratch buffers of `Activations`.
// Micro-batches run side by side; each adds into the shared gradients inside ordered sections
// (micro-batch 0 first, then 1, …), so the sums are the same bits for any number of workers.
// The token-embedding gradient is scattered after all micro-batches, over all rows in order.

import Tensors

extension Transformer {
    /// Backpropagates d(Σ_r dLosses[r]·loss[r]) from the last forward pass. `dLosses` defaults to
    /// the token-mean weights 1/count on rows with a target (count over the whole batch). Pass nil
    /// `grads` for a frozen base (only the adapter gets gradients); both may be given (BRIDGE needs
    /// θ and w gradients). Overwrites `acts.logits` with dlogits.
    public func backward(acts: Activations, grads: FloatBuffer?, lora: LoRAAdapter? = nil, loraGrads: FloatBuffer? = nil,
                         dLosses: [Float]? = nil) {
        precondition(acts.forwardDone, "backward without a forward pass")
        acts.forwardDone = false
        let N = acts.rows, C = config.hiddenSize
        precondition(grads == nil || grads!.count == layout.totalCount)
        precondition(loraGrads == nil || (lora != nil && loraGrads!.count == lora!.layout.totalCount))
        if let dLosses {
            precondition(dLosses.count == N)
            acts.dLosses.pointer.update(from: dLosses, count: N)
        } else {
            let weight = 1 / Float(max(acts.targetCount, 1))
            for r in 0..<N { acts.dLosses[r] = acts.targets[r] >= 0 ? weight : 0 }
        }
        acts.gradientOrder.reset(sections: 16 * config.numHiddenLayers + 4)
        eachMicroBatch(acts) { index, sequences in
            backwardRows(acts, sequences: sequences, index: index, grads: grads, lora: lora, loraGrads: loraGrads)
        }
        if let g = grads?.pointer {
            StepProfile.measure("bwd embedding") {
                KernelThreads.limit(to: acts.threads) {
                    acts.tokens.withUnsafeBufferPointer { tok in
                        Embedding.backward(dtable: g + layout.embedTokens, dout: acts.dResidual.readPointer, ids: tok.baseAddress!, n: N, c: C)
                    }
                }
            }
        }
    }

    /// The backward pass of micro-batch `index` (sequences b0..<b1, rows b0·T..<b1·T); leaves the
    /// gradient of the embedding output in its rows of `acts.dResidual`.
    func backwardRows(_ acts: Activations, sequences: Range<Int>, index: Int, grads: FloatBuffer?,
                      lora: LoRAAdapter?, loraGrads: FloatBuffer?) {
        let c = config, B = acts.batch, T = acts.time, N = B * T
        let r0 = sequences.lowerBound * T, n = sequences.count * T
        let C = c.hiddenSize, Q = c.qDim, K = c.kvDim, QKV = Q + 2 * K, I = c.intermediateSize, V = c.vocabSize
        let Hq = c.numAttentionHeads, Hkv = c.numKeyValueHeads, D = c.headDim
        let w = params.readPointer
        let g = grads?.pointer
        func gp(_ offset: Int?) -> UnsafeMutablePointer<Float>? { offset.flatMap { o in g.map { $0 + o } } }
        let shape = AttentionShape(batch: sequences.count, time: T, heads: Hq, kvHeads: Hkv, headDim: D)
        func at(_ buffer: FloatBuffer, _ l: Int, _ width: Int) -> UnsafePointer<Float> {
            buffer.readPointer + (l * N + r0) * width
        }
        var cursor = 0
        /// Runs body as the next section that adds into shared gradients, in micro-batch order.
        func ordered(_ body: () -> Void) {
            guard StepProfile.enabled else { return acts.gradientOrder.run(&cursor, item: index, body) }
            let entered = StepProfile.now
            acts.gradientOrder.run(&cursor, item: index) {
                StepProfile.add("bwd waiting for order", since: entered)
                body()
            }
        }
        func ordered(if needed: Bool, _ body: () -> Void) { if needed { ordered(body) } else { body() } }

        // loss → logits (of the rows the forward pass computed: `Activations.logitRows`)
        let logits = acts.logits.pointer + r0 * V
        let kept = acts.logitRows(r0, n, withLoss: true), m = kept.count
        StepProfile.measure("bwd cross-entropy") {
            let targets = kept.map { acts.targets[r0 + $0] }, losses = kept.map { acts.losses[r0 + $0] }
            let dlosses = kept.map { acts.dLosses[r0 + $0] }, scales = acts.inverseTemperatures.map { t in kept.map { t[r0 + $0] } }
            CrossEntropy.backward(dlogits: logits, logits: logits, targets: targets, losses: losses, dlosses: dlosses, n: m, v: V, scales: scales)
        }
        let dx = acts.dResidual.pointer + r0 * C, dln = acts.dNorm.pointer + r0 * C
        let lnf = acts.lnf.readPointer + r0 * C
        dx.update(repeating: 0, count: n * C)
        StepProfile.measure("bwd lm_head matmul") {
            Linear.backward(dinp: dln, dweight: nil, dbias: nil, dout: logits, inp: lnf, weight: w + layout.lmHead,
                            n: m, inFeatures: C, outFeatures: V, overwriteInput: true)
            if let dW = gp(layout.lmHead) {
                ordered { if m > 0 { Linear.backward(dinp: nil, dweight: dW, dbias: nil, dout: logits, inp: lnf, weight: w + layout.lmHead,
                                                     n: m, inFeatures: C, outFeatures: V) } }
            }
            if m < n {
                // back to one row per position: the computed rows' gradients to their places
                // (last first: a row only moves down), zeros for the rest
                for k in stride(from: m - 1, through: 0, by: -1) where kept[k] != k { (dln + kept[k] * C).update(from: dln + k * C, count: C) }
                var next = 0
                for j in 0..<n {
                    if next < m && kept[next] == j { next += 1; continue }
                    (dln + j * C).update(repeating: 0, count: C)
                }
            }
        }
        /// RMSNorm backward (dinp accumulates into dx); in an ordered section when it adds a weight gradient.
        func normBackward(_ weight: Int, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>, rstd: UnsafePointer<Float>) {
            StepProfile.measure("bwd rmsnorm") {
                ordered(if: g != nil) {
                    RMSNorm.backward(dinp: dx, dweight: gp(weight), dout: dout, inp: inp, weight: w + weight, rstd: rstd, n: n, c: C)
                }
            }
        }
        /// dinp = dout·W (own rows), then dW += doutᵀ·inp and dbias += Σ dout in an ordered section.
        func linearBackward(_ name: String, dinp: UnsafeMutablePointer<Float>, weight: Int, bias: Int?, dout: UnsafePointer<Float>,
                            inp: UnsafePointer<Float>, inFeatures: Int, outFeatures: Int) {
            StepProfile.measure(name) {
                Linear.backward(dinp: dinp, dweight: nil, dbias: nil, dout: dout, inp: inp, weight: w + weight,
                                n: n, inFeatures: inFeatures, outFeatures: outFeatures, overwriteInput: true)
                if let dW = gp(weight) {
                    ordered { Linear.backward(dinp: nil, dweight: dW, dbias: gp(bias), dout: dout, inp: inp, weight: w + weight,
                                              n: n, inFeatures: inFeatures, outFeatures: outFeatures) }
                }
            }
        }
        /// LoRA backward of `targets` (dx accumulates into own rows), ordered when w has gradients.
        func adapters(layer l: Int, _ targets: [LoRATarget], dx: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>,
                      dy: UnsafePointer<Float>, ldy: Int) {
            guard let lora else { return }
            StepProfile.measure("bwd lora") {
                ordered(if: loraGrads != nil) {
                    loraBackward(lora, loraGrads, acts, layer: l, rows: r0, n, targets: targets, dx: dx, x: x, dy: dy, ldy: ldy)
                }
            }
        }
        normBackward(layout.finalNorm, dout: dln, inp: at(acts.residual, c.numHiddenLayers, C), rstd: acts.rstdf.readPointer + r0)

        for l in stride(from: c.numHiddenLayers - 1, through: 0, by: -1) {
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

            // MLP block: out = mid + down(silu(gate)·up), gate/up = ln2 · W
            let dh = acts.dHidden.pointer + r0 * I, dgu = acts.dGateUp.pointer + r0 * 2 * I
            linearBackward("bwd down matmul", dinp: dh, weight: P.downWeight, bias: nil, dout: dx, inp: h, inFeatures: I, outFeatures: C)
            adapters(layer: l, [.down], dx: dh, x: h, dy: dx, ldy: C)
            StepProfile.measure("bwd swiglu") {
                parallelChunks(n, minChunk: 16) { rows in
                    for r in rows {
                        SwiGLU.backward(dgate: dgu + r * 2 * I, dup: dgu + r * 2 * I + I, dout: dh + r * I,
                                        gate: gu + r * 2 * I, up: gu + r * 2 * I + I, n: I)
                    }
                }
            }
            linearBackward("bwd gate/up matmul", dinp: dln, weight: P.gateUpWeight, bias: nil, dout: dgu, inp: ln2, inFeatures: C, outFeatures: 2 * I)
            adapters(layer: l, [.gate, .up], dx: dln, x: ln2, dy: dgu, ldy: 2 * I)
            normBackward(P.postNorm, dout: dln, inp: mid, rstd: at(acts.rstd2, l, 1))

            // attention block: mid = x + o(attention(rope(q), rope(k), v)), q/k/v = ln1 · W (+ b)
            let datt = acts.dAtt.pointer + r0 * Q
            linearBackward("bwd o matmul", dinp: datt, weight: P.oWeight, bias: P.oBias, dout: dx, inp: att, inFeatures: Q, outFeatures: C)
            adapters(layer: l, [.o], dx: datt, x: att, dy: dx, ldy: C)
            let dq = acts.dQ.pointer + r0 * Q, dk = acts.dK.pointer + r0 * K, dv = acts.dV.pointer + r0 * K
            StepProfile.measure("bwd attention") {
                Attention.backward(dq: dq, dk: dk, dv: dv, dout: datt,
                                   probs: acts.probs.readPointer + (l * B + sequences.lowerBound) * Hq * T * T, q: q, k: k, v: v, shape: shape)
            }
            let dqkv = acts.dQKV.pointer + r0 * QKV
            StepProfile.measure("bwd rope/qk-norm/gather") {
                // un-rotate dq/dk (the inverse rotation), through the Qwen3 norms, into the fused dqkv rows
                let rstdQ = c.qkNorm ? at(acts.rstdQ, l, Hq) : nil, rstdK = c.qkNorm ? at(acts.rstdK, l, Hkv) : nil
                acts.ropeCos.withUnsafeBufferPointer { cosTable in
                    acts.ropeSin.withUnsafeBufferPointer { sinTable in
                        let cs = cosTable.baseAddress!, sn = sinTable.baseAddress!
                        parallelChunks(n, minChunk: 16) { rows in
                            for r in rows {
                                let row = dqkv + r * QKV, pos = r % T
                                if let rstdQ, let rstdK {
                                    RoPE.rotateRow(out: dq + r * Q, inp: dq + r * Q, position: pos, cos: cs, sin: sn, heads: Hq, headDim: D, sign: -1)
                                    RoPE.rotateRow(out: dk + r * K, inp: dk + r * K, position: pos, cos: cs, sin: sn, heads: Hkv, headDim: D, sign: -1)
                                    row.update(repeating: 0, count: Q + K)
                                    RMSNorm.backward(dinp: row, dweight: nil, dout: dq + r * Q, inp: qkv + r * QKV, weight: w + P.qNorm!,
                                                     rstd: rstdQ + r * Hq, n: Hq, c: D)
                                    RMSNorm.backward(dinp: row + Q, dweight: nil, dout: dk + r * K, inp: qkv + r * QKV + Q, weight: w + P.kNorm!,
                                                     rstd: rstdK + r * Hkv, n: Hkv, c: D)
                                } else {
                                    RoPE.rotateRow(out: row, inp: dq + r * Q, position: pos, cos: cs, sin: sn, heads: Hq, headDim: D, sign: -1)
                                    RoPE.rotateRow(out: row + Q, inp: dk + r * K, position: pos, cos: cs, sin: sn, heads: Hkv, headDim: D, sign: -1)
                                }
                                (row + Q + K).update(from: dv + r * K, count: K)
                            }
                        }
                    }
                }
                // q/k norm weight gradients: rows in order on one thread (deterministic sums)
                if let rstdQ, let rstdK, let g {
                    ordered {
                        RMSNorm.backwardWeight(dweight: g + P.qNorm!, dout: dq, inp: qkv, rowStride: QKV, outStride: Q,
                                               rstd: rstdQ, rows: n, heads: Hq, c: D)
                        RMSNorm.backwardWeight(dweight: g + P.kNorm!, dout: dk, inp: qkv + Q, rowStride: QKV, outStride: K,
                                               rstd: rstdK, rows: n, heads: Hkv, c: D)
                    }
                }
            }
            linearBackward("bwd qkv matmul", dinp: dln, weight: P.qkvWeight, bias: P.qkvBias, dout: dqkv, inp: ln1, inFeatures: C, outFeatures: QKV)
            adapters(layer: l, [.q, .k, .v], dx: dln, x: ln1, dy: dqkv, ldy: QKV)
            normBackward(P.inputNorm, dout: dln, inp: x, rstd: at(acts.rstd1, l, 1))
        }
    }

    /// LoRA backward of `targets` (their columns of dy: `LoRATarget.place`) for the n rows starting at row r0.
    func loraBackward(_ lora: LoRAAdapter, _ loraGrads: FloatBuffer?, _ acts: Activations, layer l: Int, rows r0: Int, _ n: Int,
                      targets: [LoRATarget], dx: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, dy: UnsafePointer<Float>,
                      ldy: Int) {
        let N = acts.rows, r = lora.config.r
        for t in targets {
            let col = t.place(config).firstRow
            guard let slot = lora.config.targetModules.firstIndex(of: t) else { continue }
            let p = lora.layout.layers[l][slot]
            let g = loraGrads?.pointer
            LoRALinear.backward(dx: dx, da: g.map { $0 + p.a }, db: g.map { $0 + p.b }, dxa: acts.dLoRA.pointer + r0 * r,
                                dy: dy + col, ldy: ldy, xa: acts.loraXA.readPointer + (l * acts.loraTargets + slot) * N * r + r0 * r,
                                x: x, a: lora.params.readPointer + p.a, b: lora.params.readPointer + p.b,
                                n: n, r: r, inFeatures: p.inFeatures, outFeatures: p.outFeatures, scale: lora.config.scale)
        }
    }
}
