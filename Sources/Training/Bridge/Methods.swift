// The methods of the paper (ALGORITHM.md, "The baselines") and BRIDGE's λ schedules. Every method
// runs through the same lower-step/upper-step code; a method is only which parts a step has:
//
//   method             per iteration
//   sft                one θ step on ∇L_sft                          (λ = 0, no rollouts)
//   rl-zero            one θ step on ∇L_rl                           (λ = 1, no adapter, no shadow)
//   naive-mixing       one θ step on (1−λ)∇L_sft + λ∇L_rl            (no adapter)
//   naive-alternating  an RL step, then an SFT step, on θ (one AdamW)
//   cold-start         `sft_steps` SFT steps, then RL-zero from that checkpoint (fresh AdamW, π_ref = it)
//   bridge             θ, θ̂ and w (lower-step θ and θ̂, upper-step w; cooperative-gain gradient)

public enum TrainingMethod: String, Sendable, CaseIterable, Codable {
    case sft
    case rlZero = "rl-zero"
    case coldStart = "cold-start"
    case naiveAlternating = "naive-alternating"
    case naiveMixing = "naive-mixing"
    case bridge
}

/// λ by iteration k (0-based): the weight of RL against imitation in θ's update and w's.
public enum LambdaSchedule: Sendable, Equatable {
    case constant(Double)
    /// From `start` at k = 0 to `end` at k = steps − 1, constant after (ALGORITHM.md's curriculum).
    case linear(start: Double, end: Double, steps: Int)
    /// `value` from iteration `from` on; the first entry must start at 0.
    case steps([Breakpoint])
    /// λ = γ/(1+γ) for a penalty constant γ ≥ 0.
    case penalty(gamma: Double)

    public struct Breakpoint: Sendable, Equatable {
        public var from: Int
        public var value: Double
        public init(from: Int, value: Double) { self.from = from; self.value = value }
    }

    public func value(at k: Int) -> Double {
        switch self {
        case let .constant(v): return v
        case let .linear(start, end, steps):
            guard steps > 1 else { return end }
            let t = Double(min(max(k, 0), steps - 1)) / Double(steps - 1)
            return start + (end - start) * t
        case let .steps(points): return points.last { $0.from <= k }?.value ?? points.first?.value ?? 0
        case let .penalty(gamma): return gamma / (1 + gamma)
        }
    }

    /// Errors name the key under `key` (e.g. "bridge.lambda").
    public func validate(key: String = "bridge.lambda") throws(TrainingConfigError) {
        func inUnit(_ v: Double, _ k: String) throws(TrainingConfigError) {
            guard v >= 0, v <= 1 else { throw .invalid(key: k, "λ must be in [0, 1], got \(v)") }
        }
        switch self {
        case let .constant(v): try inUnit(v, key + ".value")
        case let .linear(start, end, steps):
            try inUnit(start, key + ".start"); try inUnit(end, key + ".end")
            guard steps >= 1 else { throw .invalid(key: key + ".steps", "must be ≥ 1, got \(steps)") }
        case let .steps(points):
            guard let first = points.first, first.from == 0 else { throw .invalid(key: key + ".points", "the first entry must start at step 0") }
            for (i, p) in points.enumerated() {
                try inUnit(p.value, key + ".points[\(i)].value")
                if i > 0, p.from <= points[i - 1].from { throw .invalid(key: key + ".points[\(i)].from", "steps must increase") }
            }
        case let .penalty(gamma):
            guard gamma >= 0, gamma.isFinite else { throw .invalid(key: key + ".gamma", "the penalty γ must be ≥ 0 and finite, got \(gamma)") }
        }
    }
}
