// The RL backward pass: the GRPO loss of `GRPOObjective` through the model. A generation batch
// of S sequences is laid out as rows prompt ++ completion, right-padded (causal attention:
// padding after a sequence changes nothing before it); the target of position p is the token at
// p+1 inside the completion, so losses[p] = −log π(token | prefix) at temperature T. Sequences run
// in chunks of `chunk` (bounding activation memory), shortest first, each chunk padded only to its
// own longest sequence; each chunk is forward → coefficients → backward. Weights are those of the
// whole batch, so chunking changes nothing but rounding order, and the gradients are the same bits
// for any thread count (the chunks are a function of the lengths only).

import LanguageModel
import Tensors

/// Completions with their prompts, one entry per sequence (a prompt repeats across its group).
public struct CompletionBatch: Sendable {
    public var prompts: [[Int32]]
    public var completions: [[Int32]]

    public init(prompts: [[Int32]], completions: [[Int32]]) {
        precondition(prompts.count == completions.count, "one prompt per completion")
        self.prompts = prompts
        self.completions = completions
    }

    public var count: Int { prompts.count }
    public var completionTokens: Int { completions.reduce(0) { $0 + $1.count } }
    /// prompt ++ completion length of sequence i.
    func length(_ i: Int) -> Int { prompts[i].count + completions[i].count }

    /// Tokens and targets of `sequences` (in that order), each row right-padded to `time` (pad id 0, no target).
    func rows(_ sequences: [Int], time: Int) -> (tokens: [Int32], targets: [Int32]) {
        var tokens = [Int32](repeating: 0, count: sequences.count * time), targets = [Int32](repeating: -100, count: sequences.count * time)
        for (row, i) in sequences.enumerated() {
            let p = prompts[i], c = completions[i], base = row * time
            for (t, id) in (p + c).enumerated() { tokens[base + t] = id }
            for (j, id) in c.enumerated() where p.count + j > 0 { targets[base + p.count + j - 1] = id }
        }
        return (tokens, targets)
    }
}

/// The RL side of a pass: completions, one advantage each, and optional per-token old and
/// reference log-probs (old nil: ρ ≡ 1; reference nil: no KL, only allowed with β = 0).
public struct RLBatch: Sendable {
    public var batch: CompletionBatch
    public var advantages: [Float]
    public var oldLogps: [[Float]]?
    public var refLogps: [[Float]]?

    public init(batch: CompletionBatch, advantages: [Float], oldLogps: [[Float]]? = nil, refLogps: [[Float]]? = nil) {
        self.batch = batch
        self.advantages = advantages
        self.oldLogps = oldLogps
        self.refLogps = refLogps
    }
}

/// What one pass measured: the SFT loss (token mean) and the GRPO terms, for the parts it ran.
public struct PassTerms: Sendable {
    public var sftLoss: Double?
    public var sftTokens = 0
    public var rl: GRPOTerms?
}

public enum PolicyGradient {
    /// Per-token log-probs of every completion token at temperature T (forward only): the
    /// reference (π_ref) and old-policy log-probs.
    public static func logProbs(model: Transformer, lora: LoRAAdapter? = nil, batch: CompletionBatch, temperature: Double,
                                chunk: Int = 8, threads: Int = KernelThreads.available) throws(ModelError) -> [[Float]] {
        var out = [[Float]](repeating: [], count: batch.count)
        try eachChunk(model: model, lora: lora, batch: batch, chunk: chunk, threads: threads) { (acts, sequences) throws(ModelError) in
            let (tokens, targets) = batch.rows(sequences, time: acts.time)
            try model.forward(tokens: tokens, targets: targets, acts: acts, lora: lora,
                              inverseTemperatures: inverse(temperature, rows: tokens.count))
            for (row, i) in sequences.enumerated() { out[i] = logps(acts, batch: batch, sequence: i, row: row) }
        }
        return out
    }

    /// Adds scale·∇(GRPO loss) at (model, lora) into `grads` (θ) and `loraGrads` (w), either
    /// may be nil; returns the loss terms (unscaled). `oldLogps` nil means ρ ≡ 1.
    @discardableResult
    public static func accumulate(model: Transformer, lora: LoRAAdapter? = nil, batch: CompletionBatch, advantages: [Float],
                                  oldLogps: [[Float]]? = nil, refLogps: [[Float]]? = nil, config: GRPOConfig, scale: Float = 1,
                                  grads: FloatBuffer?, loraGrads: FloatBuffer? = nil, chunk: Int = 8,
                                  threads: Int = KernelThreads.available) throws(ModelError) -> GRPOTerms {
        let rl = RLBatch(batch: batch, advantages: advantages, oldLogps: oldLogps, refLogps: refLogps)
        return try pass(model: model, lora: lora, rl: rl, rlScale: scale, config: config, grads: grads, loraGrads: loraGrads,
                        chunk: chunk, threads: threads).rl!
    }

    /// One forward/backward pass over SFT rows and RL rows together: adds
    /// ∇[sftScale·L_sft + rlScale·L_rl] at (model, lora) into `grads` and `loraGrads`. L_sft is the
    /// token mean of −log p over the SFT completions at temperature 1; L_rl the GRPO loss at the
    /// config's temperature (per-row inverse temperatures in one forward). Rows run in chunks of
    /// `chunk` sequences (SFT first), normalised over the whole pass. A part whose scale is 0 is
    /// left out. This is BRIDGE's fused θ pass: (1−λ)·SFT + λ·RL in one backward.
    public static func pass(model: Transformer, lora: LoRAAdapter? = nil, sft: CompletionBatch? = nil, sftScale: Float = 1,
                            rl: RLBatch? = nil, rlScale: Float = 1, config: GRPOConfig,
                            grads: FloatBuffer?, loraGrads: FloatBuffer? = nil, chunk: Int = 8,
                            threads: Int = KernelThreads.available) throws(ModelError) -> PassTerms {
        let sftRows = sftScale != 0 ? sft : nil, rlRows = rlScale != 0 ? rl : nil
        if let rlRows { precondition(rlRows.advantages.count == rlRows.batch.count, "one advantage per completion") }
        let nS = sftRows?.count ?? 0, nR = rlRows?.batch.count ?? 0
        let all = CompletionBatch(prompts: (sftRows?.prompts ?? []) + (rlRows?.batch.prompts ?? []),
                                  completions: (sftRows?.completions ?? []) + (rlRows?.batch.completions ?? []))
        // a completion token has a target unless it is the sequence's first token (empty prompt)
        let sftTokens = sftRows.map { b in zip(b.prompts, b.completions).reduce(0) { $0 + $1.1.count - ($1.0.isEmpty && !$1.1.isEmpty ? 1 : 0) } } ?? 0
        let sftWeight = sftScale / Float(max(sftTokens, 1))
        let inverseT = Float(1 / config.temperature)
        var out = PassTerms()
        var rlTotal = rlRows.map { _ in GRPOTerms() }
        var kl = 0.0, negLogP = 0.0, low = 0.0, high = 0.0, sftLoss = 0.0
        try eachChunk(model: model, lora: lora, batch: all, chunk: chunk, threads: threads) { (acts, sequences) throws(ModelError) in
            let (tokens, targets) = all.rows(sequences, time: acts.time)
            // the chunk's RL sequences (row in the chunk, sequence) — a chunk may mix SFT and RL rows
            let rlHere = rlRows == nil ? [] : sequences.enumerated().filter { $0.element >= nS }
            var inverse: [Float]? = nil
            if !rlHere.isEmpty && config.temperature != 1 {
                var s = [Float](repeating: 1, count: tokens.count)
                for (row, _) in rlHere { let r0 = row * acts.time; for t in 0..<acts.time { s[r0 + t] = inverseT } }
                inverse = s
            }
            try model.forward(tokens: tokens, targets: targets, acts: acts, lora: lora, inverseTemperatures: inverse)
            var dLosses = [Float](repeating: 0, count: tokens.count)
            for (row, i) in sequences.enumerated() where i < nS {
                let p = all.prompts[i].count
                for j in all.completions[i].indices where p + j > 0 {
                    let r = row * acts.time + p + j - 1
                    dLosses[r] = sftWeight
                    sftLoss += Double(acts.losses[r])
                }
            }
            if let rlRows, !rlHere.isEmpty {
                let local = rlHere.map { $0.element - nS }
                let current = rlHere.map { logps(acts, batch: all, sequence: $0.element, row: $0.offset) }
                let terms = GRPOObjective.terms(config: config, logps: current, oldLogps: rlRows.oldLogps.map { o in local.map { o[$0] } },
                                                refLogps: rlRows.refLogps.map { r in local.map { r[$0] } }, advantages: local.map { rlRows.advantages[$0] },
                                                sequences: nR, batchTokens: rlRows.batch.completionTokens)
                for (k, (row, i)) in rlHere.enumerated() {
                    let p = all.prompts[i].count
                    for j in all.completions[i].indices where p + j > 0 {
                        dLosses[row * acts.time + p + j - 1] = -rlScale * terms.coefficients[k][j]   // loss row = −logp
                    }
                }
                rlTotal!.loss += terms.loss
                rlTotal!.advantageLogProb += terms.advantageLogProb
                let n = Double(terms.tokens)
                kl += terms.meanKL * n; negLogP += terms.meanNegLogProb * n; low += terms.clipLow * n; high += terms.clipHigh * n
                rlTotal!.tokens += terms.tokens
            }
            model.backward(acts: acts, grads: grads, lora: lora, loraGrads: loraGrads, dLosses: dLosses)
        }
        if var t = rlTotal {
            let n = Double(max(t.tokens, 1))
            t.meanKL = kl / n; t.meanNegLogProb = negLogP / n; t.clipLow = low / n; t.clipHigh = high / n
            out.rl = t
        }
        if sftRows != nil {
            out.sftLoss = sftLoss / Double(max(sftTokens, 1))
            out.sftTokens = sftTokens
        }
        return out
    }

    static func inverse(_ temperature: Double, rows: Int) -> [Float]? {
        temperature == 1 ? nil : [Float](repeating: Float(1 / temperature), count: rows)
    }

    /// Completion log-probs of sequence i (activation row `row`) from the last forward's losses.
    static func logps(_ acts: Activations, batch: CompletionBatch, sequence i: Int, row: Int) -> [Float] {
        let p = batch.prompts[i].count
        return batch.completions[i].indices.map { j in p + j > 0 ? -acts.losses[row * acts.time + p + j - 1] : 0 }
    }

    /// The sequences in chunks of `chunk`, shortest first (a stable sort by prompt ++ completion
    /// length, so the chunks are a function of the lengths only): each chunk runs with activations
    /// sized for its own longest sequence, instead of every chunk padded to the batch's longest.
    static func chunks(_ batch: CompletionBatch, chunk: Int) -> [[Int]] {
        let order = batch.prompts.indices.sorted { (batch.length($0), $0) < (batch.length($1), $1) }
        return stride(from: 0, to: order.count, by: max(chunk, 1)).map { Array(order[$0..<min($0 + max(chunk, 1), order.count)]) }
    }

    /// Runs body over `chunks(batch, chunk:)` with activations sized for each (kept for the next
    /// chunk of the same shape).
    static func eachChunk(model: Transformer, lora: LoRAAdapter?, batch: CompletionBatch, chunk: Int, threads: Int,
                          _ body: (Activations, [Int]) throws(ModelError) -> Void) throws(ModelError) {
        var cached: Activations? = nil
        for sequences in chunks(batch, chunk: chunk) {
            let time = max(1, sequences.map(batch.length).max() ?? 1)
            let acts = cached.flatMap { $0.batch == sequences.count && $0.time == time ? $0 : nil }
                ?? Activations(config: model.config, batch: sequences.count, time: time, lora: lora?.config)
            acts.threads = threads
            acts.logitsForTargetsOnly = true   // only completion tokens carry a loss
            cached = acts
            try body(acts, sequences)
        }
    }
}
