// Incremental decoding with a KV cache: prefill a batch of equal-length prompts with the full
// forward pass, then one token per sequence per step, and `generate` on top (greedy or sampled).
// B sequences, C hidden, Q/K q and kv widths, I intermediate, V vocab.

import Tensors

/// Per-step buffers of the decoder, sized for B sequences.
final class DecodeScratch {
    let x, ln, qkv, q, att, gateUp, hidden, logits, loraXA, rstd: FloatBuffer
    init(config c: ModelConfig, batch B: Int, capacity: Int, loraRank: Int) {
        x = FloatBuffer(count: B * c.hiddenSize)
        ln = FloatBuffer(count: B * c.hiddenSize)
        qkv = FloatBuffer(count: B * (c.qDim + 2 * c.kvDim))
        q = FloatBuffer(count: B * c.qDim)
        att = FloatBuffer(count: B * c.qDim)
        gateUp = FloatBuffer(count: B * 2 * c.intermediateSize)
        hidden = FloatBuffer(count: B * c.intermediateSize)
        logits = FloatBuffer(count: B * c.vocabSize)
        loraXA = FloatBuffer(count: B * loraRank)
        rstd = FloatBuffer(count: B * c.numAttentionHeads)
    }
}

public struct GenerationResult: Sendable, Equatable {
    /// Generated ids per sequence (prompt excluded), cut after a stop token (which is kept).
    public var ids: [[Int32]]
}

extension Transformer {
    /// Runs the prompts (B × T, equal lengths) through the model, fills the cache's first T
    /// positions and returns the logits of each prompt's last position [B, V].
    public func prefill(prompts: [[Int32]], cache: KVCache, lora: LoRAAdapter? = nil) throws(ModelError) -> [Float] {
        let B = prompts.count, T = prompts.first?.count ?? 0
        precondition(B == cache.batch && prompts.allSatisfy { $0.count == T } && T > 0, "prompts must be non-empty and of equal length")
        if T > cache.capacity { throw .sequenceTooLong(length: T, limit: cache.capacity) }
        let acts = Activations(config: config, batch: B, time: T, lora: lora?.config)
        try forward(tokens: prompts.flatMap { $0 }, acts: acts, lora: lora)
        let c = config, K = c.kvDim, V = c.vocabSize
        for l in 0..<c.numHiddenLayers {
            for b in 0..<B {
                let src = (l * B * T + b * T) * K
                (cache.keys.pointer + cache.offset(layer: l, batch: b, position: 0)).update(from: acts.k.readPointer + src, count: T * K)
                (cache.values.pointer + cache.offset(layer: l, batch: b, position: 0)).update(from: acts.v.readPointer + src, count: T * K)
            }
        }
        cache.reset()
        cache.advance(by: T)
        var out = [Float](repeating: 0, count: B * V)
        for b in 0..<B {
            for i in 0..<V { out[b * V + i] = acts.logits[(b * T + T - 1) * V + i] }
        }
        return out
    }

    /// One new token per sequence at position `cache.length`; returns logits [B, V] in scratch.
    func decodeStep(tokens: [Int32], cache: KVCache, scratch s: DecodeScratch, lora: LoRAAdapter?) {
        let c = config, B = cache.batch, C = c.hiddenSize, Q = c.qDim, K = c.kvDim, QKV = Q + 2 * K, I = c.intermediateSize
        let Hq = c.numAttentionHeads, Hkv = c.numKeyValueHeads, D = c.headDim, eps = Float(c.rmsNormEps)
        let pos = cache.length
        let w = params.readPointer
        let x = s.x.pointer, ln = s.ln.pointer, qkv = s.qkv.pointer, q = s.q.pointer
        tokens.withUnsafeBufferPointer { Embedding.forward(out: x, ids: $0.baseAddress!, table: w + layout.embedTokens, n: B, c: C) }
        let positions = [Int32](repeating: Int32(pos), count: B)
        for l in 0..<c.numHiddenLayers {
            let P = layout.layers[l]
            RMSNorm.forward(out: ln, rstd: s.rstd.pointer, inp: x, weight: w + P.inputNorm, n: B, c: C, eps: eps)
            Linear.forward(out: qkv, inp: ln, weight: w + P.qkvWeight, bias: P.qkvBias.map { w + $0 }, n: B, inFeatures: C, outFeatures: QKV)
            decodeLoRA(lora, layer: l, targets: [.q, .k, .v], x: ln, y: qkv, ldy: QKV, columns: [0, Q, Q + K], rows: B, scratch: s)
            for b in 0..<B {
                let row = qkv + b * QKV
                let kDst = cache.keys.pointer + cache.offset(layer: l, batch: b, position: pos)
                let vDst = cache.values.pointer + cache.offset(layer: l, batch: b, position: pos)
                if c.qkNorm {
                    RMSNorm.forward(out: q + b * Q, rstd: s.rstd.pointer, inp: row, weight: w + P.qNorm!, n: Hq, c: D, eps: eps)
                    RMSNorm.forward(out: kDst, rstd: s.rstd.pointer, inp: row + Q, weight: w + P.kNorm!, n: Hkv, c: D, eps: eps)
                } else {
                    (q + b * Q).update(from: row, count: Q)
                    kDst.update(from: row + Q, count: K)
                }
                vDst.update(from: row + Q + K, count: K)
                positions.withUnsafeBufferPointer { p in
                    RoPE.forward(q + b * Q, positions: p.baseAddress!, cos: cache.ropeCos, sin: cache.ropeSin, rows: 1, heads: Hq, headDim: D)
                    RoPE.forward(kDst, positions: p.baseAddress!, cos: cache.ropeCos, sin: cache.ropeSin, rows: 1, heads: Hkv, headDim: D)
                }
            }
            Attention.decode(out: s.att.pointer, q: q,
                             kCache: cache.keys.readPointer + cache.offset(layer: l, batch: 0, position: 0),
                             vCache: cache.values.readPointer + cache.offset(layer: l, batch: 0, position: 0),
                             batch: B, length: pos + 1, capacity: cache.capacity, heads: Hq, kvHeads: Hkv, headDim: D)
            Linear.forward(out: x, inp: s.att.readPointer, weight: w + P.oWeight, bias: P.oBias.map { w + $0 }, n: B, inFeatures: Q, outFeatures: C, accumulate: true)
            decodeLoRA(lora, layer: l, targets: [.o], x: s.att.readPointer, y: x, ldy: C, columns: [0], rows: B, scratch: s)
            RMSNorm.forward(out: ln, rstd: s.rstd.pointer, inp: x, weight: w + P.postNorm, n: B, c: C, eps: eps)
            let gu = s.gateUp.pointer, h = s.hidden.pointer
            Linear.forward(out: gu, inp: ln, weight: w + P.gateUpWeight, bias: nil, n: B, inFeatures: C, outFeatures: 2 * I)
            decodeLoRA(lora, layer: l, targets: [.gate, .up], x: ln, y: gu, ldy: 2 * I, columns: [0, I], rows: B, scratch: s)
            for b in 0..<B { SwiGLU.forward(out: h + b * I, gate: gu + b * 2 * I, up: gu + b * 2 * I + I, n: I) }
            Linear.forward(out: x, inp: h, weight: w + P.downWeight, bias: nil, n: B, inFeatures: I, outFeatures: C, accumulate: true)
            decodeLoRA(lora, layer: l, targets: [.down], x: h, y: x, ldy: C, columns: [0], rows: B, scratch: s)
        }
        RMSNorm.forward(out: ln, rstd: s.rstd.pointer, inp: x, weight: w + layout.finalNorm, n: B, c: C, eps: eps)
        Linear.forward(out: s.logits.pointer, inp: ln, weight: w + layout.lmHead, bias: nil, n: B, inFeatures: C, outFeatures: c.vocabSize)
        cache.advance(by: 1)
    }

    private func decodeLoRA(_ lora: LoRAAdapter?, layer l: Int, targets: [LoRATarget], x: UnsafePointer<Float>,
                            y: UnsafeMutablePointer<Float>, ldy: Int, columns: [Int], rows: Int, scratch s: DecodeScratch) {
        guard let lora else { return }
        for (t, col) in zip(targets, columns) {
            guard let p = lora.pair(layer: l, t) else { continue }
            LoRALinear.forward(y: y + col, ldy: ldy, xa: s.loraXA.pointer, x: x, a: lora.params.readPointer + p.a,
                               b: lora.params.readPointer + p.b, n: rows, r: lora.config.r, inFeatures: p.inFeatures,
                               outFeatures: p.outFeatures, scale: lora.config.scale)
        }
    }

    /// Generates up to `maxNewTokens` per prompt (prompts of equal length). A sequence stops after
    /// emitting one of `stopTokens`; sampling per sequence uses Philox stream = its index.
    public func generate(prompts: [[Int32]], maxNewTokens: Int, sampling: SamplingOptions = .greedy,
                         stopTokens: Set<Int32> = [], lora: LoRAAdapter? = nil) throws(ModelError) -> GenerationResult {
        let B = prompts.count, T = prompts.first?.count ?? 0
        guard B > 0, T > 0 else { return GenerationResult(ids: Array(repeating: [], count: B)) }
        for p in prompts { try check(tokens: p, time: p.count) }
        let total = T + maxNewTokens
        if total > config.maxPositionEmbeddings { throw .sequenceTooLong(length: total, limit: config.maxPositionEmbeddings) }
        let cache = KVCache(config: config, batch: B, capacity: max(total, 1))
        var logits = try prefill(prompts: prompts, cache: cache, lora: lora)
        let scratch = DecodeScratch(config: config, batch: B, capacity: cache.capacity, loraRank: lora?.config.r ?? 0)
        var samplers = (0..<B).map { Sampler(options: sampling, stream: UInt64($0)) }
        var out = [[Int32]](repeating: [], count: B)
        var done = [Bool](repeating: false, count: B)
        let V = config.vocabSize
        var next = [Int32](repeating: 0, count: B)
        for step in 0..<maxNewTokens {
            logits.withUnsafeBufferPointer { l in
                for b in 0..<B where !done[b] {
                    next[b] = samplers[b].sample(l.baseAddress! + b * V, vocab: V)
                    out[b].append(next[b])
                    if stopTokens.contains(next[b]) { done[b] = true }
                }
            }
            if done.allSatisfy({ $0 }) || step == maxNewTokens - 1 { break }
            decodeStep(tokens: next, cache: cache, scratch: scratch, lora: lora)
            logits.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: scratch.logits.readPointer, count: B * V) }
        }
        return GenerationResult(ids: out)
    }

    /// Logits [B, V] of one decode step (for tests and tools): feeds `tokens` at `cache.length`.
    public func decode(tokens: [Int32], cache: KVCache, lora: LoRAAdapter? = nil) throws(ModelError) -> [Float] {
        try check(tokens: tokens, time: cache.length + 1)
        precondition(tokens.count == cache.batch)
        if cache.length >= cache.capacity { throw .sequenceTooLong(length: cache.length + 1, limit: cache.capacity) }
        let scratch = DecodeScratch(config: config, batch: cache.batch, capacity: cache.capacity, loraRank: lora?.config.r ?? 0)
        decodeStep(tokens: tokens, cache: cache, scratch: scratch, lora: lora)
        return scratch.logits.array
    }
}
