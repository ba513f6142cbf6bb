// GRPO group-relative advantages (ALGORITHM.md, "GRPO"), as TRL computes them
// (`_generate_and_score_completions`, trl 1.16): for the G responses to one prompt,
// A_i = (R_i − mean_group(R)) / (std + ε_std) with the sample standard deviation (n − 1, torch.std),
// where std is the group's (`scale_rewards: group`, the default), the whole batch's (`batch`: the
// group mean is still subtracted), or no division at all (`none`). An all-equal group gets A = 0.
// ε_std is named `advantageEpsilon` (TRL 1e-4, verl 1e-6) so that it cannot be confused with the
// clip `epsilon`.

public enum ScaleRewards: String, Sendable, CaseIterable, Codable {
    case group, batch, none
}

public struct GroupAdvantages: Sendable {
    public var epsilon: Double
    public var scale: ScaleRewards

    public init(epsilon: Double = 1e-6, scale: ScaleRewards = .group) {
        self.epsilon = epsilon
        self.scale = scale
    }

    /// Advantages for `rewards` laid out group after group (`groupSize` responses per prompt).
    public func compute(rewards: [Double], groupSize: Int) -> [Double] {
        precondition(groupSize > 0 && rewards.count % groupSize == 0, "rewards do not form whole groups of \(groupSize)")
        var out = [Double](repeating: 0, count: rewards.count)
        let batchStd = Self.sampleStd(rewards[...])
        for start in stride(from: 0, to: rewards.count, by: groupSize) {
            let group = rewards[start..<(start + groupSize)]
            guard groupSize > 1, let first = group.first, !group.allSatisfy({ $0 == first }) else { continue }
            let mean = group.reduce(0, +) / Double(groupSize)
            let divisor: Double = switch scale {
            case .group: Self.sampleStd(group) + epsilon
            case .batch: batchStd + epsilon
            case .none: 1
            }
            for i in group.indices { out[i] = (rewards[i] - mean) / divisor }
        }
        return out
    }

    /// torch.std: the sample standard deviation (n − 1); 0 for fewer than two values.
    static func sampleStd(_ xs: ArraySlice<Double>) -> Double {
        guard xs.count > 1 else { return 0 }
        let mean = xs.reduce(0, +) / Double(xs.count)
        return (xs.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(xs.count - 1)).squareRoot()
    }

    /// Statistics of the groups, for metrics.
    public static func groupStatistics(rewards: [Double], groupSize: Int) -> (solvedAll: Int, solvedNone: Int, mixed: Int) {
        var all = 0, none = 0, mixed = 0
        for start in stride(from: 0, to: rewards.count, by: groupSize) {
            let group = rewards[start..<(start + groupSize)]
            let maxR = group.max()!, minR = group.min()!
            if maxR == minR {
                if maxR > 0 { all += 1 } else { none += 1 }
            } else {
                mixed += 1
            }
        }
        return (all, none, mixed)
    }
}
