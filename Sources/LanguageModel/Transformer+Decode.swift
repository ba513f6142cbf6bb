// Inference with a KV cache: T new tokens per sequence (a whole prompt, or one token while
// decoding) go through the model, their keys/values are written to the cache, and only each
// sequence's last logits are computed. `generate` (greedy or sampled) builds on it.
// B sequences, T new tokens, C hidden, Q/K q and kv widths, I intermediate, V vocab.

import Tensors

/// Buffers of one cached forward for B×T new tokens (reused across decode steps).
final class InferenceScratch {
    let rows: Int
    let x, ln, qkv, q, att, gateUp, hidden, lastLN, logits, loraXA, rstd: FloatBuffer
    var positions: [Int32]

    init(config c: ModelConfig, batch B: Int, time T: Int, loraRank: Int) {
        rows = B * T
        let N = rows
        x = FloatBuffer(count: N * c.hiddenSize)
        ln = FloatBuffer(count: N * c.hiddenSize)
        qkv = FloatBuffer(count: N * (c.qDim + 2 * c.kvDim))
        q = FloatBuffer(count: N * c.qDim)
        att = FloatBuffer(count: N * c.qDim)
        gateUp = FloatBuffer(count: N * 2 * c.intermediateSize)
        hidden = FloatBuffer(count: N * c.intermediateSize)
        lastLN = FloatBuffer(count: B * c.hiddenSize)
        logits = FloatBuffer(count: B * c.vocabSize)
        loraXA = FloatBuffer(count: N * loraRank)
        rstd = FloatBuffer(count: N * max(c.numAttentionHeads, 1))
        positions = Array(repeating: 0, count: N)
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
        for p in prompts { try check(tokens: p, time: p.count) }
        if T > cache.capacity { throw .sequenceTooLong(length: T, limit: cache.capacity) }
        cache.reset()
        let scratch = InferenceScratch(config: config, batch: B, time: T, loraRank: lora?.config.r ?? 0)
        forwardCached(tokens: prompts.flatMap { $0 }, time: T, cache: cache, scratch: scratch, lora: lora)
        return scratch.logits.array
    }

    /// Logits [B, V] after feeding one token per sequence at position `cache.length`.
    public func decode(tokens: [Int32], cache: KVCache, lora: LoRAAdapter? = nil) throws(ModelError) -> [Float] {
        precondition(tokens.count == cache.batch)
        try check(tokens: tokens, time: cache.length + 1)
        if cache.length >= cache.capacity { throw .sequenceTooLong(length: cache.length + 1, limit: cache.capacity) }
        let scratch = InferenceScratch(config: config, batch: cache.batch, time: 1, loraRank: lora?.config.r ?? 0)
        forwardCached(tokens: tokens, time: 1, cache: cache, scratch: scratch, lora: lora)
        return scratch.logits.array
    }

    /// tokens [B·T] at positions cache.length ..< cache.length+T; logits of each sequence's last
    /// new token land in scratch.logits [B, V].
    func forwardCached(tokens: [Int32], time T: Int, cache: KVCache, scratch s: InferenceScratch, lora: LoRAAdapter?) {
        let c = config, B = cache.batch, N = B * T, start = cache.length
        let C = c.hiddenSize, Q = c.qDim, K = c.kvDim, QKV = Q + 2 * K, I = c.intermediateSize
        let Hq = c.numAttentionHeads, Hkv = c.numKeyValueHeads, D = c.headDim, eps = Float(c.rmsNormEps)
        precondition(tokens.count == N && s.rows == N && start + T <= cache.capacity)
        let w = params.readPointer
        let x = s.x.pointer, ln = s.ln.pointer, qkv = s.qkv.pointer, q = s.q.pointer, att = s.att.pointer
        let gu = s.gateUp.pointer, h = s.hidden.pointer
        for r in 0..<N { s.positions[r] = Int32(start + r % T) }
        tokens.withUnsafeBufferPointer { Embedding.forward(out: x, ids: $0.baseAddress!, table: w + layout.embedTokens, n: N, c: C) }
        for l in 0..<c.numHiddenLayers {
            let P = layout.layers[l]
            StepProfile.measure("inf rmsnorm") {
                RMSNorm.forward(out: ln, rstd: s.rstd.pointer, inp: x, weight: w + P.inputNorm, n: N, c: C, eps: eps)
            }
            StepProfile.measure("inf qkv") {
                Linear.forward(out: qkv, inp: ln, weight: w + P.qkvWeight, bias: P.qkvBias.map { w + $0 }, n: N, inFeatures: C, outFeatures: QKV)
            }
            inferenceLoRA(lora, layer: l, targets: [.q, .k, .v], x: ln, y: qkv, ldy: QKV, columns: [0, Q, Q + K], rows: N, scratch: s)
            // split q/k/v, q/k norm, keys and values straight into the cache, RoPE
            let keys = cache.keys.pointer, values = cache.values.pointer
            StepProfile.measure("inf split/rope or swiglu") {
                parallelChunks(N, minChunk: 16) { rows in
                    for r in rows {
                        let b = r / T, t = r % T
                        let row = qkv + r * QKV
                        let kDst = keys + cache.offset(layer: l, batch: b, position: start + t)
                        let vDst = values + cache.offset(layer: l, batch: b, position: start + t)
                        if c.qkNorm {
                            RMSNorm.forward(out: q + r * Q, rstd: s.rstd.pointer + r * Hq, inp: row, weight: w + P.qNorm!, n: Hq, c: D, eps: eps)
                            RMSNorm.forward(out: kDst, rstd: s.rstd.pointer + r * Hq, inp: row + Q, weight: w + P.kNorm!, n: Hkv, c: D, eps: eps)
                        } else {
                            (q + r * Q).update(from: row, count: Q)
                            kDst.update(from: row + Q, count: K)
                        }
                        vDst.update(from: row + Q + K, count: K)
                        s.positions.withUnsafeBufferPointer { p in
                            RoPE.rotate(q + r * Q, positions: p.baseAddress! + r, cos: cache.ropeCos, sin: cache.ropeSin, rows: 1, heads: Hq, headDim: D, sign: 1)
                            RoPE.rotate(kDst, positions: p.baseAddress! + r, cos: cache.ropeCos, sin: cache.ropeSin, rows: 1, heads: Hkv, headDim: D, sign: 1)
                        }
                    }
                }
            }
            StepProfile.measure("inf attention") {
                Attention.cached(out: att, q: q, kCache: cache.keys.readPointer + cache.offset(layer: l, batch: 0, position: 0),
                                 vCache: cache.values.readPointer + cache.offset(layer: l, batch: 0, position: 0),
                                 batch: B, time: T, start: start, capacity: cache.capacity, heads: Hq, kvHeads: Hkv, headDim: D)
            }
            StepProfile.measure("inf o") {
                Linear.forward(out: x, inp: att, weight: w + P.oWeight, bias: P.oBias.map { w + $0 }, n: N, inFeatures: Q, outFeatures: C, accumulate: true)
            }
            inferenceLoRA(lora, layer: l, targets: [.o], x: att, y: x, ldy: C, columns: [0], rows: N, scratch: s)
            StepProfile.measure("inf rmsnorm") {
                RMSNorm.forward(out: ln, rstd: s.rstd.pointer, inp: x, weight: w + P.postNorm, n: N, c: C, eps: eps)
            }
            StepProfile.measure("inf gate/up") {
                Linear.forward(out: gu, inp: ln, weight: w + P.gateUpWeight, bias: nil, n: N, inFeatures: C, outFeatures: 2 * I)
            }
            inferenceLoRA(lora, layer: l, targets: [.gate, .up], x: ln, y: gu, ldy: 2 * I, columns: [0, I], rows: N, scratch: s)
            StepProfile.measure("inf split/rope or swiglu") {
                parallelChunks(N, minChunk: 16) { rows in
                    for r in rows { SwiGLU.forward(out: h + r * I, gate: gu + r * 2 * I, up: gu + r * 2 * I + I, n: I) }
                }
            }
            StepProfile.measure("inf down") {
                Linear.forward(out: x, inp: h, weight: w + P.downWeight, bias: nil, n: N, inFeatures: I, outFeatures: C, accumulate: true)
            }
            inferenceLoRA(lora, layer: l, targets: [.down], x: h, y: x, ldy: C, columns: [0], rows: N, scratch: s)
        }
        // final norm and logits for each sequence's last new token only
        for b in 0..<B where b != b * T + T - 1 { (x + b * C).update(from: x + (b * T + T - 1) * C, count: C) }
        RMSNorm.forward(out: s.lastLN.pointer, rstd: s.rstd.pointer, inp: x, weight: w + layout.finalNorm, n: B, c: C, eps: eps)
        StepProfile.measure("inf lm_head") {
            Linear.forward(out: s.logits.pointer, inp: s.lastLN.readPointer, weight: w + layout.lmHead, bias: nil, n: B, inFeatures: C, outFeatures: c.vocabSize)
        }
        cache.advance(by: T)
    }

    private func inferenceLoRA(_ lora: LoRAAdapter?, layer l: Int, targets: [LoRATarget], x: UnsafePointer<Float>,
                               y: UnsafeMutablePointer<Float>, ldy: Int, columns: [Int], rows: Int, scratch s: InferenceScratch) {
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
        let scratch = InferenceScratch(config: config, batch: B, time: 1, loraRank: lora?.config.r ?? 0)
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
            forwardCached(tokens: next, time: 1, cache: cache, scratch: scratch, lora: lora)
            logits.withUnsafeMutableBufferPointer { $0.baseAddress!.update(from: scratch.logits.readPointer, count: B * V) }
        }
        return GenerationResult(ids: out)
    }
}
