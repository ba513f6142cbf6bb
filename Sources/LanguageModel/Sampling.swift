// Next-token choice from logits: greedy (argmax, lowest id on ties, as torch.argmax), or
// temperature + nucleus (top-p) sampling with a seeded counter-based RNG. V vocabulary.

import Tensors

public struct SamplingOptions: Sendable, Equatable {
    /// 0 = greedy.
    public var temperature: Float
    /// Nucleus mass in (0, 1]; 1 keeps every token.
    public var topP: Float
    public var seed: UInt64

    public init(temperature: Float = 0, topP: Float = 1, seed: UInt64 = 0) {
        self.temperature = temperature
        self.topP = topP
        self.seed = seed
    }

    public static let greedy = SamplingOptions()
}

public struct Sampler: Sendable {
    public let options: SamplingOptions
    private var rng: Philox
    private var probs: [Float] = []
    private var order: [Int32] = []

    /// One sampler per sequence: `stream` separates sequences drawn with the same seed.
    public init(options: SamplingOptions, stream: UInt64 = 0) {
        self.options = options
        self.rng = Philox(seed: options.seed, stream: stream)
    }

    /// log softmax(logits / temperature)[token], in f64 — the log-probability of a sampled token
    /// under the sampling policy before any top-p cut (temperature ≤ 0 counts as 1). The reference
    /// for what `sample(_:vocab:logProbability:)` returns.
    public static func logProbability(of token: Int32, _ logits: UnsafePointer<Float>, vocab: Int, temperature: Float) -> Float {
        let inv = temperature > 0 ? 1 / Double(temperature) : 1
        var m = -Double.infinity
        for i in 0..<vocab { m = max(m, Double(logits[i]) * inv) }
        var sum = 0.0
        for i in 0..<vocab { sum += _exp(Double(logits[i]) * inv - m) }
        return Float(Double(logits[Int(token)]) * inv - m - _log(sum))
    }

    /// probs = softmax(logits · inv) (`Softmax.scaled`); returns its shift and normaliser.
    private mutating func softmax(_ logits: UnsafePointer<Float>, vocab: Int, inverseTemperature inv: Float) -> (shift: Float, sum: Float) {
        if probs.count != vocab { probs = [Float](repeating: 0, count: vocab) }
        return probs.withUnsafeMutableBufferPointer { Softmax.scaled($0.baseAddress!, logits, scale: inv, count: vocab) }
    }

    public static func argmax(_ logits: UnsafePointer<Float>, vocab: Int) -> Int32 {
        var best = 0
        for i in 1..<vocab where logits[i] > logits[best] { best = i }
        return Int32(best)
    }

    /// The next token; with `logProbability`, also its log softmax(logits / temperature) before
    /// any top-p cut (temperature ≤ 0 counts as 1), from the softmax pass the sampling makes
    /// (vectorised, in f32; `logProbability(of:_:vocab:temperature:)` is the f64 reference).
    public mutating func sample(_ logits: UnsafePointer<Float>, vocab: Int, logProbability: UnsafeMutablePointer<Float>? = nil) -> Int32 {
        if options.temperature <= 0 {
            let token = Sampler.argmax(logits, vocab: vocab)
            if let logProbability {
                let (m, sum) = softmax(logits, vocab: vocab, inverseTemperature: 1)
                logProbability.pointee = logits[Int(token)] - m - _log(sum)
            }
            return token
        }
        let inv = 1 / options.temperature
        let (m, sum) = softmax(logits, vocab: vocab, inverseTemperature: inv)
        let token = draw(vocab: vocab)
        if let logProbability { logProbability.pointee = logits[Int(token)] * inv - m - _log(sum) }
        return token
    }

    /// A token from `probs` (a softmax) with this sequence's next uniform, within the top-p nucleus.
    private mutating func draw(vocab: Int) -> Int32 {
        let u = rng.uniform()
        if options.topP >= 1 {
            var acc: Float = 0
            for i in 0..<vocab {
                acc += probs[i]
                if u < acc { return Int32(i) }
            }
            return Int32(vocab - 1)
        }
        // nucleus: the most probable tokens whose mass first reaches top_p, renormalised
        if order.count != vocab { order = [Int32](repeating: 0, count: vocab) }
        for i in 0..<vocab { order[i] = Int32(i) }
        let p = probs
        order.sort { p[Int($0)] > p[Int($1)] || (p[Int($0)] == p[Int($1)] && $0 < $1) }
        var mass: Float = 0
        var keep = 0
        while keep < vocab {
            mass += p[Int(order[keep])]
            keep += 1
            if mass >= options.topP { break }
        }
        let target = u * mass
        var acc: Float = 0
        for j in 0..<keep {
            acc += p[Int(order[j])]
            if target < acc { return order[j] }
        }
        return order[keep - 1]
    }
}
