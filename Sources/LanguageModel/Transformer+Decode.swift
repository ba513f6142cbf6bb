// Inference with a KV cache: T new tokens per sequence (a whole prompt, or one token while
// decoding) go through the model, their keys/values are written to the cache, and only each
// sequence's last logits are computed. `generate` (greedy or sampled) builds on it.
// Prompts (of any lengths) run one per worker, side by side with single-threaded kernels, each
// through its own rows of the cache and its own scratch; every sequence then decodes at its own
// positions. Decoding steps (T = 1) stream every weight matrix for a few rows, so all rows go
// through each product together and its output features are split over the cores, whose helpers
// spin between products (HotThreads) instead of sleeping. Every row is computed the same way
// whatever rows come with it and whatever the thread count, so the generated ids depend on
// neither. `generate` first packs the weight matrices into panels (`PackedLinear`), with an
// adapter folded in (W + scale·B·A, as a merged export), and both its prefill and its decoding
// steps read them: a panel product's row never depends on its company, so up to
// `packedDecodeRows` sequences decode in one pass over the weights (two passes of 16 rows streamed
// the weights from memory twice a step), and a rollout from base + adapter runs as fast as the
// base alone. `prefill`/`decode` (one step) read the nn.Linear layout and run an adapter's own
// products.
// B sequences, G sequences in a group, T new tokens, C hidden, Q/K q and kv widths,
// I intermediate, V vocab.

import Tensors

/// Buffers of one cached forward for G×T new tokens (reused across decode steps).
final class InferenceScratch {
    let rows: Int
    let x, ln, qkv, q, att, gateUp, hidden, lastLN, logits, loraXA, rstd, scores: FloatBuffer

    init(config c: ModelConfig, sequences G: Int, time T: Int, cacheStride: Int, loraRank: Int) {
        rows = G * T
        let N = rows
        x = FloatBuffer(count: N * c.hiddenSize)
        ln = FloatBuffer(count: N * c.hiddenSize)
        qkv = FloatBuffer(count: N * (c.qDim + 2 * c.kvDim))
        q = FloatBuffer(count: N * c.qDim)
        att = FloatBuffer(count: N * c.qDim)
        gateUp = FloatBuffer(count: N * 2 * c.intermediateSize)
        hidden = FloatBuffer(count: N * c.intermediateSize)
        lastLN = FloatBuffer(count: G * c.hiddenSize)
        logits = FloatBuffer(count: G * c.vocabSize)
        loraXA = FloatBuffer(count: N * loraRank)
        rstd = FloatBuffer(count: N * max(c.numAttentionHeads, 1))
        scores = FloatBuffer(count: G * CachedAttention.scratchCount(time: T, stride: cacheStride, heads: c.numAttentionHeads,
                                                                     kvHeads: c.numKeyValueHeads, headDim: c.headDim))
    }
}

/// The model's weight matrices packed for decoding steps (`PackedLinear`), copied from its
/// parameters when built: valid until the parameters change. `generate` packs once per call (one
/// pass over the weights; as much memory again as the matrices), into a buffer the model keeps
/// between calls: writing into fresh pages (faults, zero-filling) costs more than the packing.
final class DecodeWeights {
    let buffer: FloatBuffer
    let qkv, o, gateUp, down: [Int]
    let lmHead: Int

    /// The model's matrices packed, with `lora` folded in (W + scale·B·A, as `merged`): whoever
    /// reads these panels runs no adapter products of its own.
    init(model m: Transformer, lora: LoRAAdapter? = nil, reusing old: FloatBuffer?) {
        let c = m.config, C = c.hiddenSize, I = c.intermediateSize, QKV = c.qDim + 2 * c.kvDim
        var total = 0
        func reserve(_ inF: Int, _ outF: Int) -> Int {
            defer { total += PackedLinear.count(inFeatures: inF, outFeatures: outF) }
            return total
        }
        let L = c.numHiddenLayers
        qkv = (0..<L).map { _ in reserve(C, QKV) }
        o = (0..<L).map { _ in reserve(c.qDim, C) }
        gateUp = (0..<L).map { _ in reserve(C, 2 * I) }
        down = (0..<L).map { _ in reserve(I, C) }
        lmHead = reserve(C, c.vocabSize)
        buffer = old?.count == total ? old! : FloatBuffer(count: total)
        let w = m.params.readPointer, dst = buffer.pointer
        for l in 0..<L {
            let P = m.layout.layers[l]
            PackedLinear.pack(dst + qkv[l], weight: w + P.qkvWeight, inFeatures: C, outFeatures: QKV)
            PackedLinear.pack(dst + o[l], weight: w + P.oWeight, inFeatures: c.qDim, outFeatures: C)
            PackedLinear.pack(dst + gateUp[l], weight: w + P.gateUpWeight, inFeatures: C, outFeatures: 2 * I)
            PackedLinear.pack(dst + down[l], weight: w + P.downWeight, inFeatures: I, outFeatures: C)
        }
        PackedLinear.pack(dst + lmHead, weight: w + m.layout.lmHead, inFeatures: C, outFeatures: c.vocabSize)
        guard let lora else { return }
        let ap = lora.params.readPointer
        for (l, pairs) in lora.layout.layers.enumerated() {
            for p in pairs {
                let (projection, first) = p.target.place(c)
                let matrix: Int
                switch projection {
                case .qkv: matrix = qkv[l]
                case .o: matrix = o[l]
                case .gateUp: matrix = gateUp[l]
                case .down: matrix = down[l]
                }
                PackedLinear.addLowRank(dst + matrix, rows: first..<(first + p.outFeatures), a: ap + p.a, b: ap + p.b,
                                        rank: lora.config.r, inFeatures: p.inFeatures, scale: lora.config.scale)
            }
        }
    }
}

public struct GenerationResult: Sendable, Equatable {
    /// Generated ids per sequence (prompt excluded), cut after a stop token (which is kept).
    public var ids: [[Int32]]
    /// With `logprobs: true`: each generated token's log-probability under the sampling policy
    /// (`Sampler.sample`'s, in f32), aligned with `ids`.
    public var logprobs: [[Float]]?
}

extension Transformer {
    /// The groups of sequences that go through one decoding step together: at most 16.
    public static func decodeGroups(batch B: Int) -> [Range<Int>] { groups(batch: B, size: Linear.skinnyRows) }

    /// Sequences per group of `generate`'s decoding steps, whose products read packed panels: every
    /// row is computed the same way in any company, so one pass over the weights serves up to this
    /// many rows (each group streams every weight matrix once per step).
    public static let packedDecodeRows = 64

    static func groups(batch B: Int, size: Int) -> [Range<Int>] {
        let count = (B + size - 1) / size
        return (0..<count).map { (($0 * B) / count)..<((($0 + 1) * B) / count) }
    }

    /// Runs body on the calling thread with `threads` kernel threads, spinning helpers between
    /// the parallel loops, OpenBLAS single-threaded (see `runParts`).
    static func runHot<R>(threads: Int, _ body: () -> R) -> R {
        BLAS.singleThreaded { KernelThreads.limit(to: threads) { HotThreads.run(threads: threads, body) } }
    }

    /// Runs the prompts (B × T, equal lengths) through the model, fills the cache's first T
    /// positions and returns the logits of each prompt's last position [B, V].
    public func prefill(prompts: [[Int32]], cache: KVCache, lora: LoRAAdapter? = nil, threads: Int? = nil) throws(ModelError) -> [Float] {
        let B = prompts.count, T = prompts.first?.count ?? 0
        precondition(B == cache.batch && prompts.allSatisfy { $0.count == T } && T > 0, "prompts must be non-empty and of equal length")
        for p in prompts { try check(tokens: p, time: p.count) }
        if T > cache.capacity { throw .sequenceTooLong(length: T, limit: cache.capacity) }
        cache.reset()
        let logits = prefillPrompts(prompts, cache: cache, lora: lora, threads: threads)
        cache.advance(by: T)
        return logits
    }

    /// Logits [B, V] after feeding one token per sequence at position `cache.length`.
    public func decode(tokens: [Int32], cache: KVCache, lora: LoRAAdapter? = nil, threads: Int? = nil) throws(ModelError) -> [Float] {
        precondition(tokens.count == cache.batch)
        try check(tokens: tokens, time: cache.length + 1)
        if cache.length >= cache.capacity { throw .sequenceTooLong(length: cache.length + 1, limit: cache.capacity) }
        let logits = cachedStep(tokens: tokens, cache: cache, lora: lora, threads: threads)
        cache.advance(by: 1)
        return logits
    }

    /// One token per sequence at position cache.length; the logits [B, V]. All rows go through
    /// each product together (groups of at most 16), the products split over spinning helpers.
    func cachedStep(tokens: [Int32], cache: KVCache, lora: LoRAAdapter?, threads: Int?) -> [Float] {
        let B = cache.batch, V = config.vocabSize
        let starts = [Int](repeating: cache.length, count: B)
        let threads = threads ?? KernelThreads.count, rank = lora?.config.r ?? 0
        var logits = [Float](repeating: 0, count: B * V)
        logits.withUnsafeMutableBufferPointer { out in
            tokens.withUnsafeBufferPointer { tok in
                Transformer.runHot(threads: threads) {
                    for seqs in Transformer.decodeGroups(batch: B) {
                        let scratch = InferenceScratch(config: config, sequences: seqs.count, time: 1, cacheStride: cache.stride, loraRank: rank)
                        forwardCached(tokens: tok.baseAddress! + seqs.lowerBound, sequences: seqs, time: 1, starts: starts,
                                      cache: cache, scratch: scratch, lora: lora)
                        (out.baseAddress! + seqs.lowerBound * V).update(from: scratch.logits.readPointer, count: seqs.count * V)
                    }
                }
            }
        }
        return logits
    }

    /// Prompts of any (non-zero) lengths from position 0, their keys and values into the cache;
    /// the logits of each prompt's last token [B, V]. Each prompt runs on its own (prompts side by
    /// side with single-threaded kernels), leaving its last hidden state; then its product over the
    /// vocabulary, one row at a time. So a prompt's keys, values and logits are the same bits
    /// whatever other prompts share the call: BLAS may round a row differently for another row
    /// count, and a rollout's generation batch must not change what it samples. With `packed`
    /// (generate's panels, an adapter folded in) the products read the panels, whose rows never
    /// depend on their company, and the last rows go through the vocabulary together.
    func prefillPrompts(_ prompts: [[Int32]], cache: KVCache, lora: LoRAAdapter?, threads: Int?, packed: DecodeWeights? = nil) -> [Float] {
        let B = prompts.count, V = config.vocabSize, C = config.hiddenSize
        let threads = threads ?? KernelThreads.count, rank = lora?.config.r ?? 0
        let groups = (0..<B).map { $0..<($0 + 1) }
        let starts = [Int](repeating: 0, count: B)
        let last = FloatBuffer(count: B * C)
        let hidden = UncheckedPointer(last.pointer)
        Transformer.runParts(groups.count, threads: threads) { gi in
            let seqs = groups[gi], T = prompts[seqs.lowerBound].count
            let tokens = seqs.flatMap { prompts[$0] }
            let scratch = InferenceScratch(config: config, sequences: seqs.count, time: T, cacheStride: cache.stride, loraRank: rank)
            tokens.withUnsafeBufferPointer { tok in
                forwardCached(tokens: tok.baseAddress!, sequences: seqs, time: T, starts: starts,
                              cache: cache, scratch: scratch, lora: lora, lastHidden: hidden.pointer + seqs.lowerBound * C, packed: packed)
            }
        }
        if let packed {
            let scratch = InferenceScratch(config: config, sequences: B, time: 1, cacheStride: cache.stride, loraRank: 0)
            Transformer.runHot(threads: threads) { lastLogits(hidden: last.readPointer, rows: B, scratch: scratch, packed: packed) }
            return scratch.logits.array
        }
        var logits = [Float](repeating: 0, count: B * V)
        let scratch = InferenceScratch(config: config, sequences: 1, time: 1, cacheStride: cache.stride, loraRank: 0)
        for b in 0..<B {
            Transformer.runHot(threads: threads) {
                lastLogits(hidden: last.readPointer + b * C, rows: 1, scratch: scratch)
            }
            logits.withUnsafeMutableBufferPointer { out in
                (out.baseAddress! + b * V).update(from: scratch.logits.readPointer, count: V)
            }
        }
        return logits
    }

    /// out (+)= inp · weightᵀ (+ bias): from the packed copy when there is one (decoding steps).
    @inline(__always)
    func linear(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, weight: Int, packed: UnsafePointer<Float>?, bias: Int?,
                rows: Int, inFeatures: Int, outFeatures: Int, accumulate: Bool = false) {
        let w = params.readPointer
        if let packed {
            PackedLinear.forward(out: out, inp: inp, packed: packed, bias: bias.map { w + $0 }, n: rows,
                                 inFeatures: inFeatures, outFeatures: outFeatures, accumulate: accumulate)
        } else {
            Linear.forward(out: out, inp: inp, weight: w + weight, bias: bias.map { w + $0 }, n: rows,
                           inFeatures: inFeatures, outFeatures: outFeatures, accumulate: accumulate)
        }
    }

    /// Final norm and lm_head of `rows` hidden states [rows, C] into scratch.logits [rows, V].
    func lastLogits(hidden: UnsafePointer<Float>, rows: Int, scratch s: InferenceScratch, packed: DecodeWeights? = nil) {
        let c = config
        RMSNorm.forward(out: s.lastLN.pointer, rstd: s.rstd.pointer, inp: hidden, weight: params.readPointer + layout.finalNorm,
                        n: rows, c: c.hiddenSize, eps: Float(c.rmsNormEps))
        StepProfile.measure("inf lm_head") {
            linear(out: s.logits.pointer, inp: s.lastLN.readPointer, weight: layout.lmHead, packed: packed.map { $0.buffer.readPointer + $0.lmHead },
                   bias: nil, rows: rows, inFeatures: c.hiddenSize, outFeatures: c.vocabSize)
        }
    }

    /// tokens [G·T] of sequences `sequences`, sequence b at positions starts[b]..<starts[b]+T
    /// (indexed by the sequence's place in the cache); keys/values go to the
    /// cache, the logits of each sequence's last new token to scratch.logits [G, V] (or, with
    /// `lastHidden`, the last tokens' hidden states there [G, C], before the final norm).
    func forwardCached(tokens: UnsafePointer<Int32>, sequences: Range<Int>, time T: Int, starts: [Int], cache: KVCache,
                       scratch s: InferenceScratch, lora: LoRAAdapter?, lastHidden: UnsafeMutablePointer<Float>? = nil,
                       packed: DecodeWeights? = nil) {
        let c = config, G = sequences.count, N = G * T
        let C = c.hiddenSize, Q = c.qDim, K = c.kvDim, QKV = Q + 2 * K, I = c.intermediateSize
        let Hq = c.numAttentionHeads, Hkv = c.numKeyValueHeads, D = c.headDim, eps = Float(c.rmsNormEps)
        precondition(s.rows == N && sequences.allSatisfy { starts[$0] + T <= cache.capacity })
        let w = params.readPointer
        let x = s.x.pointer, ln = s.ln.pointer, qkv = s.qkv.pointer, q = s.q.pointer, att = s.att.pointer
        let gu = s.gateUp.pointer, h = s.hidden.pointer
        let S = cache.stride
        Embedding.forward(out: x, ids: tokens, table: w + layout.embedTokens, n: N, c: C)
        for l in 0..<c.numHiddenLayers {
            let P = layout.layers[l]
            StepProfile.measure("inf rmsnorm") {
                RMSNorm.forward(out: ln, rstd: s.rstd.pointer, inp: x, weight: w + P.inputNorm, n: N, c: C, eps: eps)
            }
            StepProfile.measure("inf qkv") {
                linear(out: qkv, inp: ln, weight: P.qkvWeight, packed: packed.map { $0.buffer.readPointer + $0.qkv[l] }, bias: P.qkvBias, rows: N, inFeatures: C, outFeatures: QKV)
            }
            inferenceLoRA(lora, layer: l, targets: [.q, .k, .v], x: ln, y: qkv, ldy: QKV, rows: N, scratch: s)
            // q/k norm and RoPE in the qkv rows, q out, keys and values into the cache
            StepProfile.measure("inf split/rope") {
                cache.ropeCos.withUnsafeBufferPointer { cosTable in
                    cache.ropeSin.withUnsafeBufferPointer { sinTable in
                        let cs = cosTable.baseAddress!, sn = sinTable.baseAddress!
                        // a decoding step has only a few rows, each worth splitting off (helpers spin)
                        parallelChunks(N, minChunk: T == 1 ? 1 : 16) { rows in
                            for r in rows {
                                let b = sequences.lowerBound + r / T, pos = starts[b] + r % T
                                let row = qkv + r * QKV
                                if c.qkNorm {
                                    RMSNorm.forward(out: row, rstd: s.rstd.pointer + r * Hq, inp: row, weight: w + P.qNorm!, n: Hq, c: D, eps: eps)
                                    RMSNorm.forward(out: row + Q, rstd: s.rstd.pointer + r * Hq, inp: row + Q, weight: w + P.kNorm!, n: Hkv, c: D, eps: eps)
                                }
                                RoPE.rotateRow(out: q + r * Q, inp: row, position: pos, cos: cs, sin: sn, heads: Hq, headDim: D, sign: 1)
                                RoPE.rotateRow(out: row + Q, inp: row + Q, position: pos, cos: cs, sin: sn, heads: Hkv, headDim: D, sign: 1)
                                let base = cache.offset(layer: l, sequence: b)
                                CachedAttention.store(key: row + Q, value: row + Q + K, position: pos, keys: cache.keys.pointer + base,
                                                      values: cache.values.pointer + base, stride: S, kvHeads: Hkv, headDim: D)
                            }
                        }
                    }
                }
            }
            StepProfile.measure("inf attention") {
                let perSequence = s.scores.count / G
                parallelChunks(G) { seqs in
                    for i in seqs {
                        let base = cache.offset(layer: l, sequence: sequences.lowerBound + i)
                        CachedAttention.forward(out: att + i * T * Q, q: q + i * T * Q, keys: cache.keys.readPointer + base,
                                                values: cache.values.readPointer + base, stride: S, time: T, start: starts[sequences.lowerBound + i],
                                                heads: Hq, kvHeads: Hkv, headDim: D, scratch: s.scores.pointer + i * perSequence)
                    }
                }
            }
            StepProfile.measure("inf o") {
                linear(out: x, inp: att, weight: P.oWeight, packed: packed.map { $0.buffer.readPointer + $0.o[l] }, bias: P.oBias, rows: N, inFeatures: Q, outFeatures: C, accumulate: true)
            }
            inferenceLoRA(lora, layer: l, targets: [.o], x: att, y: x, ldy: C, rows: N, scratch: s)
            StepProfile.measure("inf rmsnorm") {
                RMSNorm.forward(out: ln, rstd: s.rstd.pointer, inp: x, weight: w + P.postNorm, n: N, c: C, eps: eps)
            }
            StepProfile.measure("inf gate/up") {
                linear(out: gu, inp: ln, weight: P.gateUpWeight, packed: packed.map { $0.buffer.readPointer + $0.gateUp[l] }, bias: nil, rows: N, inFeatures: C, outFeatures: 2 * I)
            }
            inferenceLoRA(lora, layer: l, targets: [.gate, .up], x: ln, y: gu, ldy: 2 * I, rows: N, scratch: s)
            StepProfile.measure("inf swiglu") {
                parallelChunks(N, minChunk: 16) { rows in
                    for r in rows { SwiGLU.forward(out: h + r * I, gate: gu + r * 2 * I, up: gu + r * 2 * I + I, n: I) }
                }
            }
            StepProfile.measure("inf down") {
                linear(out: x, inp: h, weight: P.downWeight, packed: packed.map { $0.buffer.readPointer + $0.down[l] }, bias: nil, rows: N, inFeatures: I, outFeatures: C, accumulate: true)
            }
            inferenceLoRA(lora, layer: l, targets: [.down], x: h, y: x, ldy: C, rows: N, scratch: s)
        }
        // final norm and logits for each sequence's last new token only
        if let lastHidden {
            for i in 0..<G { (lastHidden + i * C).update(from: x + (i * T + T - 1) * C, count: C) }
            return
        }
        for i in 0..<G where i != i * T + T - 1 { (x + i * C).update(from: x + (i * T + T - 1) * C, count: C) }
        lastLogits(hidden: x, rows: G, scratch: s, packed: packed)
    }

    private func inferenceLoRA(_ lora: LoRAAdapter?, layer l: Int, targets: [LoRATarget], x: UnsafePointer<Float>,
                               y: UnsafeMutablePointer<Float>, ldy: Int, rows: Int, scratch s: InferenceScratch) {
        guard let lora else { return }
        for t in targets {
            guard let p = lora.pair(layer: l, t) else { continue }
            LoRALinear.forwardByRow(y: y + t.place(config).firstRow, ldy: ldy, xa: s.loraXA.pointer, x: x, a: lora.params.readPointer + p.a,
                                    b: lora.params.readPointer + p.b, n: rows, r: lora.config.r, inFeatures: p.inFeatures,
                                    outFeatures: p.outFeatures, scale: lora.config.scale)
        }
    }

    /// `prefillPrompts` with each distinct prompt run once (a rollout asks for G responses to the same
    /// prompt): its copies take its keys, values and last logits, the same bits as their own run.
    func prefillOnce(_ prompts: [[Int32]], cache: KVCache, lora: LoRAAdapter?, threads: Int, packed: DecodeWeights? = nil) -> [Float] {
        var slot: [[Int32]: Int] = [:]
        var unique: [[Int32]] = []
        let source = prompts.map { p in
            if let u = slot[p] { return u }
            unique.append(p)
            slot[p] = unique.count - 1
            return unique.count - 1
        }
        if unique.count == prompts.count { return prefillPrompts(prompts, cache: cache, lora: lora, threads: threads, packed: packed) }
        let once = KVCache(config: config, batch: unique.count, capacity: cache.capacity)
        let logits = prefillPrompts(unique, cache: once, lora: lora, threads: threads, packed: packed)
        let V = config.vocabSize
        var out = [Float](repeating: 0, count: prompts.count * V)
        for (b, u) in source.enumerated() {
            cache.copyPrefix(of: u, in: once, to: b, length: unique[u].count)
            out.replaceSubrange((b * V)..<((b + 1) * V), with: logits[(u * V)..<((u + 1) * V)])
        }
        return out
    }

    /// Generates up to `maxNewTokens` per prompt (prompts of any non-zero lengths, each sequence at
    /// its own positions; its ids do not depend on the other prompts). A sequence stops after
    /// emitting one of `stopTokens`; sampling per sequence uses Philox stream `streams[b]` (default:
    /// its index b). `threads` (default `KernelThreads.count`) changes the speed, never the ids.
    public func generate(prompts: [[Int32]], maxNewTokens: Int, sampling: SamplingOptions = .greedy,
                         stopTokens: Set<Int32> = [], lora: LoRAAdapter? = nil, threads: Int? = nil,
                         streams: [UInt64]? = nil, logprobs: Bool = false) throws(ModelError) -> GenerationResult {
        let B = prompts.count, lengths = prompts.map(\.count)
        guard B > 0, maxNewTokens > 0 else {
            return GenerationResult(ids: Array(repeating: [], count: B), logprobs: logprobs ? Array(repeating: [], count: B) : nil)
        }
        precondition(lengths.allSatisfy { $0 > 0 }, "prompts must be non-empty")
        precondition(streams.map { $0.count == B } ?? true, "one sampler stream per prompt")
        for p in prompts { try check(tokens: p, time: p.count) }
        let total = lengths.max()! + maxNewTokens
        if total > config.maxPositionEmbeddings { throw .sequenceTooLong(length: total, limit: config.maxPositionEmbeddings) }
        let cache = KVCache(config: config, batch: B, capacity: total)
        let threads = threads ?? KernelThreads.count
        let V = config.vocabSize
        // the panels first: prefill reads them too (packing costs one pass over the weights, which a
        // single new token does not repay)
        let packed = maxNewTokens > 1 ? Transformer.runHot(threads: threads) {
            StepProfile.measure("inf pack") { DecodeWeights(model: self, lora: lora, reusing: decodeBuffer.withLock { b in b.take() }) }
        } : nil
        defer { if let packed { decodeBuffer.withLock { $0 = packed.buffer } } }
        // the panels carry the adapter: nothing reading them runs its products again
        let unfolded = packed == nil ? lora : nil
        let first = prefillOnce(prompts, cache: cache, lora: unfolded, threads: threads, packed: packed)
        let groups = Transformer.groups(batch: B, size: Transformer.packedDecodeRows)
        let scratches = groups.map { InferenceScratch(config: config, sequences: $0.count, time: 1, cacheStride: cache.stride, loraRank: unfolded?.config.r ?? 0) }
        let logits = FloatBuffer(first)
        var samplers = (0..<B).map { Sampler(options: sampling, stream: streams?[$0] ?? UInt64($0)) }
        var lp: [[Float]] = Array(repeating: [], count: B)
        var out = [[Int32]](repeating: [], count: B)
        var done = [Bool](repeating: false, count: B)
        var next = [Int32](repeating: 0, count: B)
        var nextLogprob = [Float](repeating: 0, count: B)
        Transformer.runHot(threads: threads) {
            for t in 0..<maxNewTokens {
                let finished = done
                samplers.withUnsafeMutableBufferPointer { sp in
                    next.withUnsafeMutableBufferPointer { np in
                        nextLogprob.withUnsafeMutableBufferPointer { lq in
                            let (sp, np, lq) = (UncheckedPointer(sp.baseAddress!), UncheckedPointer(np.baseAddress!), UncheckedPointer(lq.baseAddress!))
                            StepProfile.measure("inf sampling") {
                                // each row sampled (and its token's log-probability taken) by the helpers
                                parallelChunks(B) { rows in
                                    for b in rows {
                                        let row = logits.readPointer + b * V
                                        np.pointer[b] = sp.pointer[b].sample(row, vocab: V, logProbability: logprobs && !finished[b] ? lq.pointer + b : nil)
                                    }
                                }
                            }
                        }
                    }
                }
                for b in 0..<B where !done[b] {
                    out[b].append(next[b])
                    if logprobs { lp[b].append(nextLogprob[b]) }
                    if stopTokens.contains(next[b]) { done[b] = true }
                }
                if done.allSatisfy({ $0 }) || t == maxNewTokens - 1 { break }
                let starts = lengths.map { $0 + t }
                next.withUnsafeBufferPointer { tok in
                    for (gi, seqs) in groups.enumerated() {
                        forwardCached(tokens: tok.baseAddress! + seqs.lowerBound, sequences: seqs, time: 1, starts: starts,
                                      cache: cache, scratch: scratches[gi], lora: unfolded, packed: packed)
                        (logits.pointer + seqs.lowerBound * V).update(from: scratches[gi].logits.readPointer, count: seqs.count * V)
                    }
                }
            }
        }
        return GenerationResult(ids: out, logprobs: logprobs ? lp : nil)
    }
}

/// A pointer handed to workers that write disjoint parts of it.
struct UncheckedPointer<T>: @unchecked Sendable {
    let pointer: UnsafeMutablePointer<T>
    init(_ pointer: UnsafeMutablePointer<T>) { self.pointer = pointer }
}
