// Generic arithmetic text for pretraining a base model from random weights (the [experiment]
// miniature): the statements and results of the synthetic task's worked steps ("73 + 28 = 101."),
// taken from train-split problems of the chosen levels under a seed of their own. No question, no
// answer line and no \boxed{}: a model pretrained on it knows arithmetic facts but not the
// solution format, as the paper's base models know mathematics but not its answer format.

public enum ArithmeticCorpus {
    /// `count` lines, cycling through `levels`; deterministic in `seed`.
    public static func lines(seed: UInt64, count: Int, levels: ClosedRange<Int> = SyntheticArithmetic.Difficulty.levels) throws(DatasetError) -> [String] {
        guard count > 0 else { return [] }
        let tasks = try levels.map { level throws(DatasetError) in try SyntheticArithmetic(seed: seed, level: level) }
        var out: [String] = []
        out.reserveCapacity(count)
        var next = [UInt64](repeating: 0, count: tasks.count)
        var t = 0
        while out.count < count {
            let task = tasks[t]
            // the next train-split problem of this level (indices of the test split are skipped)
            var p = task.problem(at: next[t])
            while p.split != .train { next[t] += 1; p = task.problem(at: next[t]) }
            next[t] += 1
            for line in p.solution.split(separator: "\n") where !line.hasPrefix("The answer is") {
                out.append(String(line))
                if out.count == count { break }
            }
            t = (t + 1) % tasks.count
        }
        return out
    }
}
