// The RL backward pass: the GRPO loss of `GRPOObjective` through the model. A generation batch
// of S sequences is laid out as rows prompt ++ completion, right-padded to T (causal attention:
// padding after a sequence changes nothing before it); the target of position p is the token at
// p+1 inside the completion, so losses[p] = −log π(token | prefix) at temperature T. Sequences run
// in chunks of `chunk` (bounding activation memory), each forward → coefficients → backward;
// weights are those of the whole batch, so chunking changes nothing but rounding order, and the
// gradients are the same bits for any thread count.

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
    /// Row length: the longest prompt ++ completion.
    public var time: Int { zip(prompts, completions).map { $0.count + $1.count }.max() ?? 0 }

    /// Tokens and targets of sequences `range`, each row right-padded to `time` (pad id 0, no target).
    func rows(_ range: Range<Int>, time: Int) -> (tokens: [Int32], targets: [Int32]) {
        var tokens = [Int32](repeating: 0, count: range.count * time), targets = [Int32](repeating: -100, count: range.count * time)
        for (row, i) in range.enumerated() {
            let p = prompts[i], c = completions[i], base = row * time
            for (t, id) in (p + c).enumerated() { tokens[base + t] = id }
            for (j, id) in c.enumerated() where p.count + j > 0 { targets[base + p.count + j - 1] = id }
        }
        return (tokens, targets)
    }
}

public enum PolicyGradient {
    /// Per-token log-probs of every completion token at temperature T (forward only): the
    /// reference (π_ref) and old-policy log-probs.
    public static func logProbs(model: Transformer, lora: LoRAAdapter? = nil, batch: CompletionBatch, temperature: Double,
                                chunk: Int = 8, threads: Int = KernelThreads.count) throws(ModelError) -> [[Float]] {
        var out: [[Float]] = []
        try eachChunk(model: model, lora: lora, batch: batch, chunk: chunk, threads: threads) { (acts, range) throws(ModelError) in
            let (tokens, targets) = batch.rows(range, time: acts.time)
            try model.forward(tokens: tokens, targets: targets, acts: acts, lora: lora,
                              inverseTemperatures: inverse(temperature, rows: tokens.count))
            out += logps(acts, batch: batch, range: range)
        }
        return out
    }

    /// Adds scale·∇(GRPO loss) at (model, lora) into `grads` (θ) and `loraGrads` (w), either
    /// may be nil; returns the loss terms (unscaled). `oldLogps` nil means ρ ≡ 1.
    @discardableResult
    public static func accumulate(model: Transformer, lora: LoRAAdapter? = nil, batch: CompletionBatch, advantages: [Float],
                                  oldLogps: [[Float]]? = nil, refLogps: [[Float]]? = nil, config: GRPOConfig, scale: Float = 1,
                                  grads: FloatBuffer?, loraGrads: FloatBuffer? = nil, chunk: Int = 8,
                                  threads: Int = KernelThreads.count) throws(ModelError) -> GRPOTerms {
        precondition(advantages.count == batch.count)
        var total = GRPOTerms()
        var kl = 0.0, negLogP = 0.0, low = 0.0, high = 0.0
        try eachChunk(model: model, lora: lora, batch: batch, chunk: chunk, threads: threads) { (acts, range) throws(ModelError) in
            let (tokens, targets) = batch.rows(range, time: acts.time)
            try model.forward(tokens: tokens, targets: targets, acts: acts, lora: lora,
                              inverseTemperatures: inverse(config.temperature, rows: tokens.count))
            let current = logps(acts, batch: batch, range: range)
            let terms = GRPOObjective.terms(config: config, logps: current, oldLogps: oldLogps.map { Array($0[range]) },
                                            refLogps: refLogps.map { Array($0[range]) }, advantages: Array(advantages[range]),
                                            sequences: batch.count, batchTokens: batch.completionTokens)
            var dLosses = [Float](repeating: 0, count: tokens.count)
            for (row, i) in range.enumerated() {
                let p = batch.prompts[i].count
                for j in batch.completions[i].indices where p + j > 0 {
                    dLosses[row * acts.time + p + j - 1] = -scale * terms.coefficients[row][j]   // loss row = −logp
                }
            }
            model.backward(acts: acts, grads: grads, lora: lora, loraGrads: loraGrads, dLosses: dLosses)
            total.loss += terms.loss
            let n = Double(terms.tokens)
            kl += terms.meanKL * n; negLogP += terms.meanNegLogProb * n; low += terms.clipLow * n; high += terms.clipHigh * n
            total.tokens += terms.tokens
        }
        let n = Double(max(total.tokens, 1))
        total.meanKL = kl / n; total.meanNegLogProb = negLogP / n; total.clipLow = low / n; total.clipHigh = high / n
        return total
    }

    static func inverse(_ temperature: Double, rows: Int) -> [Float]? {
        temperature == 1 ? nil : [Float](repeating: Float(1 / temperature), count: rows)
    }

    /// Completion log-probs of sequences `range` from the last forward's losses.
    static func logps(_ acts: Activations, batch: CompletionBatch, range: Range<Int>) -> [[Float]] {
        range.enumerated().map { row, i in
            let p = batch.prompts[i].count
            return batch.completions[i].indices.map { j in p + j > 0 ? -acts.losses[row * acts.time + p + j - 1] : 0 }
        }
    }

    /// Runs body over chunks of `chunk` sequences with activations sized for them (the batch's row length).
    static func eachChunk(model: Transformer, lora: LoRAAdapter?, batch: CompletionBatch, chunk: Int, threads: Int,
                          _ body: (Activations, Range<Int>) throws(ModelError) -> Void) throws(ModelError) {
        let time = batch.time
        var cache: [Int: Activations] = [:]
        for start in stride(from: 0, to: batch.count, by: max(chunk, 1)) {
            let range = start..<min(start + max(chunk, 1), batch.count)
            let acts = cache[range.count] ?? Activations(config: model.config, batch: range.count, time: time, lora: lora?.config)
            acts.threads = threads
            cache[range.count] = acts
            try body(acts, range)
        }
    }
}
