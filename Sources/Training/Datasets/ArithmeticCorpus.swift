// Generic arithmetic text for pretraining a base model from random weights (the [experiment]
// miniature), from train-split problems of the chosen levels under a seed of their own. Two kinds
// of document, alternating: a problem followed by its whole expression and result on the next line
// ("Compute 33 / 3 + 28.\n33 / 3 + 28 = 39."; a word problem gets the expression its story
// stands for), and single statements ("73 + 28 = 101."). No worked steps, no answer line and no
// \boxed{}: a model pretrained on it states results directly, which is right for easy problems
// and mostly wrong for long ones, and does not know the solution format — as the paper's base
// models know mathematics but not its answer format.
//
// With `answerLine`, each problem document ends with the line the worked solutions end with
// ("The answer is \boxed{39}."): a base that has seen answers stated in the box (as base models
// pretrained on web mathematics have) but not the step-by-step solutions. Single statements are
// unchanged.

public enum ArithmeticCorpus {
    /// `count` documents (separated by blank lines when written out), cycling through `levels`;
    /// deterministic in `seed`.
    public static func documents(seed: UInt64, count: Int, levels: ClosedRange<Int> = SyntheticArithmetic.Difficulty.levels,
                                 answerLine: Bool = false) throws(DatasetError) -> [String] {
        guard count > 0 else { return [] }
        let tasks = try levels.map { level throws(DatasetError) in try SyntheticArithmetic(seed: seed, level: level) }
        var out: [String] = []
        out.reserveCapacity(count)
        var next = [UInt64](repeating: 0, count: tasks.count)
        var t = 0
        while out.count < count {
            let task = tasks[t]
            // the next train-split problem of this level (indices of the other splits are skipped)
            var p = task.problem(at: next[t])
            while p.split != .train { next[t] += 1; p = task.problem(at: next[t]) }
            next[t] += 1
            let stated = SyntheticArithmetic.answerLine(p.answer)
            out.append("\(p.text)\n\(p.expression) = \(p.answer)." + (answerLine ? "\n" + stated : ""))
            for line in p.solution.split(separator: "\n") where line != stated {
                if out.count == count { break }
                out.append(String(line))
            }
            t = (t + 1) % tasks.count
        }
        return out
    }

    /// The corpus as text: the documents separated by blank lines (PretrainStage's `paragraphs`).
    public static func text(seed: UInt64, count: Int, levels: ClosedRange<Int> = SyntheticArithmetic.Difficulty.levels,
                            answerLine: Bool = false) throws(DatasetError) -> String {
        try documents(seed: seed, count: count, levels: levels, answerLine: answerLine).joined(separator: "\n\n") + "\n"
    }
}
