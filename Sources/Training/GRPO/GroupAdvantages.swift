// GRPO group-relative advantages (ALGORITHM.md, "GRPO"): for the G responses to one prompt,
// A_i = (R_i − mean(R)) / (std(R) + eps) with the sample standard deviation (n − 1), broadcast
// to every token of response i by the objective. A group whose rewards are all equal gets A = 0
// (it carries no signal), as does a group of one.
// Where we depart from TRL: TRL's default scale_rewards uses the population std; the paper's
// framework (verl GRPO) uses the sample std, which we follow. `epsilon` is TRL's 1e-4 / verl's 1e-6.

public struct GroupAdvantages: Sendable {
    public var epsilon: Double

    public init(epsilon: Double = 1e-6) {
        self.epsilon = epsilon
    }

    /// Advantages for `rewards` laid out group after group (`groupSize` responses per prompt).
    public func compute(rewards: [Double], groupSize: Int) -> [Double] {
        precondition(groupSize > 0 && rewards.count % groupSize == 0, "rewards do not form whole groups of \(groupSize)")
        var out = [Double](repeating: 0, count: rewards.count)
        for start in stride(from: 0, to: rewards.count, by: groupSize) {
            let group = rewards[start..<(start + groupSize)]
            guard groupSize > 1, let first = group.first, !group.allSatisfy({ $0 == first }) else { continue }
            let mean = group.reduce(0, +) / Double(groupSize)
            let variance = group.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(groupSize - 1)
            let scale = variance.squareRoot() + epsilon
            for i in group.indices { out[i] = (rewards[i] - mean) / scale }
        }
        return out
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
