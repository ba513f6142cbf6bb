// The hand-written backward pass (llm.c's gpt2_backward) through every layer, in reverse.
// Parameter gradients accumulate into `grads` (θ layout) and `loraGrads` (w layout); zero them
// once per accumulation window. Activation gradients use the scratch buffers of `Activations`.

import Tensors

extension Transformer {
    /// Backpropagates d(Σ_r dLosses[r]·loss[r]) from the last forward pass. `dLosses` defaults to
    /// the token-mean weights 1/count on rows with a target. Pass nil `grads` for a frozen base
    /// (only the adapter gets gradients); both may be given (BRIDGE needs θ and w gradients).
    /// Overwrites `acts.logits` with dlogits.
    public func backward(acts: Activations, grads: FloatBuffer?, lora: LoRAAdapter? = nil, loraGrads: FloatBuffer? = nil,
                         dLosses: [Float]? = nil) {
        precondition(acts.forwardDone, "backward without a forward pass")
        acts.forwardDone = false
        let c = config, B = acts.batch, T = acts.time, N = B * T
        let C = c.hiddenSize, Q = c.qDim, K = c.kvDim, QKV = Q + 2 * K, I = c.intermediateSize
        let Hq = c.numAttentionHeads, Hkv = c.numKeyValueHeads, D = c.headDim
        precondition(grads == nil || grads!.count == layout.totalCount)
        precondition(loraGrads == nil || (lora != nil && loraGrads!.count == lora!.layout.totalCount))
        let w = params.readPointer
        let g = grads?.pointer
        func gp(_ offset: Int?) -> UnsafeMutablePointer<Float>? { offset.flatMap { o in g.map { $0 + o } } }
        let shape = AttentionShape(batch: B, time: T, heads: Hq, kvHeads: Hkv, headDim: D)

        // loss → logits
        if let dLosses {
            precondition(dLosses.count == N)
            acts.dLosses.pointer.update(from: dLosses, count: N)
        } else {
            let weight = 1 / Float(max(acts.targetCount, 1))
            for r in 0..<N { acts.dLosses[r] = acts.targets[r] >= 0 ? weight : 0 }
        }
        StepProfile.measure("bwd cross-entropy") {
            acts.targets.withUnsafeBufferPointer { t in
                CrossEntropy.backward(dlogits: acts.logits.pointer, logits: acts.logits.readPointer, targets: t.baseAddress!,
                                      losses: acts.losses.readPointer, dlosses: acts.dLosses.readPointer, n: N, v: c.vocabSize)
            }
        }
        let dx = acts.dResidual.pointer, dln = acts.dNorm.pointer
        dx.update(repeating: 0, count: N * C)
        StepProfile.measure("bwd lm_head matmul") {
            Linear.backward(dinp: dln, dweight: gp(layout.lmHead), dbias: nil, dout: acts.logits.readPointer,
                            inp: acts.lnf.readPointer, weight: w + layout.lmHead, n: N, inFeatures: C, outFeatures: c.vocabSize,
                            overwriteInput: true)
        }
        StepProfile.measure("bwd rmsnorm") {
            RMSNorm.backward(dinp: dx, dweight: gp(layout.finalNorm), dout: dln,
                             inp: acts.residual.readPointer + c.numHiddenLayers * N * C, weight: w + layout.finalNorm,
                             rstd: acts.rstdf.readPointer, n: N, c: C)
        }

        for l in stride(from: c.numHiddenLayers - 1, through: 0, by: -1) {
            let P = layout.layers[l]
            let x = acts.residual.readPointer + l * N * C
            let ln1 = acts.ln1.readPointer + l * N * C
            let qkv = acts.qkv.readPointer + l * N * QKV
            let q = acts.q.readPointer + l * N * Q, k = acts.k.readPointer + l * N * K, v = acts.v.readPointer + l * N * K
            let att = acts.att.readPointer + l * N * Q
            let mid = acts.residualMid.readPointer + l * N * C
            let ln2 = acts.ln2.readPointer + l * N * C
            let gu = acts.gateUp.readPointer + l * N * 2 * I
            let h = acts.hidden.readPointer + l * N * I

            // MLP block: out = mid + down(silu(gate)·up), gate/up = ln2 · W
            let dh = acts.dHidden.pointer, dgu = acts.dGateUp.pointer
            StepProfile.measure("bwd down matmul") {
                Linear.backward(dinp: dh, dweight: gp(P.downWeight), dbias: nil, dout: dx, inp: h, weight: w + P.downWeight,
                                n: N, inFeatures: I, outFeatures: C, overwriteInput: true)
            }
            loraBackward(lora, loraGrads, acts, layer: l, targets: [.down], dx: dh, x: h, dy: dx, ldy: C, columns: [0])
            StepProfile.measure("bwd swiglu") {
                parallelChunks(N, minChunk: 16) { rows in
                    for r in rows {
                        SwiGLU.backward(dgate: dgu + r * 2 * I, dup: dgu + r * 2 * I + I, dout: dh + r * I,
                                        gate: gu + r * 2 * I, up: gu + r * 2 * I + I, n: I)
                    }
                }
            }
            StepProfile.measure("bwd gate/up matmul") {
                Linear.backward(dinp: dln, dweight: gp(P.gateUpWeight), dbias: nil, dout: dgu, inp: ln2, weight: w + P.gateUpWeight,
                                n: N, inFeatures: C, outFeatures: 2 * I, overwriteInput: true)
            }
            loraBackward(lora, loraGrads, acts, layer: l, targets: [.gate, .up], dx: dln, x: ln2, dy: dgu, ldy: 2 * I, columns: [0, I])
            StepProfile.measure("bwd rmsnorm") {
                RMSNorm.backward(dinp: dx, dweight: gp(P.postNorm), dout: dln, inp: mid, weight: w + P.postNorm,
                                 rstd: acts.rstd2.readPointer + l * N, n: N, c: C)
            }

            // attention block: mid = x + o(attention(rope(q), rope(k), v)), q/k/v = ln1 · W (+ b)
            let datt = acts.dAtt.pointer
            StepProfile.measure("bwd o matmul") {
                Linear.backward(dinp: datt, dweight: gp(P.oWeight), dbias: gp(P.oBias), dout: dx, inp: att, weight: w + P.oWeight,
                                n: N, inFeatures: Q, outFeatures: C, overwriteInput: true)
            }
            loraBackward(lora, loraGrads, acts, layer: l, targets: [.o], dx: datt, x: att, dy: dx, ldy: C, columns: [0])
            let dq = acts.dQ.pointer, dk = acts.dK.pointer, dv = acts.dV.pointer
            StepProfile.measure("bwd attention") {
                Attention.backward(dq: dq, dk: dk, dv: dv, dout: datt,
                                   probs: acts.probs.readPointer + l * B * Hq * T * T, q: q, k: k, v: v, shape: shape)
            }
            let dqkv = acts.dQKV.pointer
            StepProfile.measure("bwd rope/qk-norm/gather") {
                // un-rotate dq/dk (the inverse rotation), through the Qwen3 norms, into the fused dqkv rows
                let ropeCos = acts.ropeCos, ropeSin = acts.ropeSin
                parallelChunks(N, minChunk: 16) { rows in
                    ropeCos.withUnsafeBufferPointer { cosTable in
                        ropeSin.withUnsafeBufferPointer { sinTable in
                            let cs = cosTable.baseAddress!, sn = sinTable.baseAddress!
                            for r in rows {
                                let row = dqkv + r * QKV, pos = r % T
                                if c.qkNorm {
                                    RoPE.rotateRow(out: dq + r * Q, inp: dq + r * Q, position: pos, cos: cs, sin: sn, heads: Hq, headDim: D, sign: -1)
                                    RoPE.rotateRow(out: dk + r * K, inp: dk + r * K, position: pos, cos: cs, sin: sn, heads: Hkv, headDim: D, sign: -1)
                                    row.update(repeating: 0, count: Q + K)
                                    RMSNorm.backward(dinp: row, dweight: nil, dout: dq + r * Q, inp: qkv + r * QKV, weight: w + P.qNorm!,
                                                     rstd: acts.rstdQ.readPointer + (l * N + r) * Hq, n: Hq, c: D)
                                    RMSNorm.backward(dinp: row + Q, dweight: nil, dout: dk + r * K, inp: qkv + r * QKV + Q, weight: w + P.kNorm!,
                                                     rstd: acts.rstdK.readPointer + (l * N + r) * Hkv, n: Hkv, c: D)
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
                if c.qkNorm, let g {
                    RMSNorm.backwardWeight(dweight: g + P.qNorm!, dout: dq, inp: qkv, rowStride: QKV, outStride: Q,
                                           rstd: acts.rstdQ.readPointer + l * N * Hq, rows: N, heads: Hq, c: D)
                    RMSNorm.backwardWeight(dweight: g + P.kNorm!, dout: dk, inp: qkv + Q, rowStride: QKV, outStride: K,
                                           rstd: acts.rstdK.readPointer + l * N * Hkv, rows: N, heads: Hkv, c: D)
                }
            }
            StepProfile.measure("bwd qkv matmul") {
                Linear.backward(dinp: dln, dweight: gp(P.qkvWeight), dbias: gp(P.qkvBias), dout: dqkv, inp: ln1, weight: w + P.qkvWeight,
                                n: N, inFeatures: C, outFeatures: QKV, overwriteInput: true)
            }
            loraBackward(lora, loraGrads, acts, layer: l, targets: [.q, .k, .v], dx: dln, x: ln1, dy: dqkv, ldy: QKV, columns: [0, Q, Q + K])
            StepProfile.measure("bwd rmsnorm") {
                RMSNorm.backward(dinp: dx, dweight: gp(P.inputNorm), dout: dln, inp: x, weight: w + P.inputNorm,
                                 rstd: acts.rstd1.readPointer + l * N, n: N, c: C)
            }
        }
        if let g {
            acts.tokens.withUnsafeBufferPointer { tok in
                Embedding.backward(dtable: g + layout.embedTokens, dout: dx, ids: tok.baseAddress!, n: N, c: C)
            }
        }
    }

    func loraBackward(_ lora: LoRAAdapter?, _ loraGrads: FloatBuffer?, _ acts: Activations, layer l: Int, targets: [LoRATarget],
                      dx: UnsafeMutablePointer<Float>, x: UnsafePointer<Float>, dy: UnsafePointer<Float>, ldy: Int, columns: [Int]) {
        guard let lora else { return }
        let N = acts.rows, r = lora.config.r
        for (t, col) in zip(targets, columns) {
            guard let slot = lora.config.targetModules.firstIndex(of: t) else { continue }
            let p = lora.layout.layers[l][slot]
            let g = loraGrads?.pointer
            LoRALinear.backward(dx: dx, da: g.map { $0 + p.a }, db: g.map { $0 + p.b }, dxa: acts.dLoRA.pointer,
                                dy: dy + col, ldy: ldy, xa: acts.loraXA.readPointer + (l * acts.loraTargets + slot) * N * r,
                                x: x, a: lora.params.readPointer + p.a, b: lora.params.readPointer + p.b,
                                n: N, r: r, inFeatures: p.inFeatures, outFeatures: p.outFeatures, scale: lora.config.scale)
        }
    }
}
