// The rule-based RL reward R(ŷ, y) of ALGORITHM.md: `correctReward` when the final answer equals
// the reference, else `incorrectReward` (1/0 by default; the paper's ±1 is `.plusMinusOne`, and
// with GRPO's group normalisation both give the same update). An optional format component, off by
// default, adds `formatReward` when the response ends with a `\boxed{}` answer (TRL-style format reward).

public struct MathRewardConfig: Sendable, Equatable, Codable {
    public var correctReward: Double
    public var incorrectReward: Double
    /// Added when the final answer is given in `\boxed{}`; 0 turns the component off.
    public var formatReward: Double
    /// Relative tolerance of the grader for inexact numbers.
    public var relativeTolerance: Double

    public init(correctReward: Double = 1, incorrectReward: Double = 0, formatReward: Double = 0, relativeTolerance: Double = 1e-5) {
        self.correctReward = correctReward
        self.incorrectReward = incorrectReward
        self.formatReward = formatReward
        self.relativeTolerance = relativeTolerance
    }

    /// 1 for a correct answer, 0 otherwise (the default).
    public static let zeroOne = MathRewardConfig()
    /// +1 / −1 as written in the paper's objective.
    public static let plusMinusOne = MathRewardConfig(correctReward: 1, incorrectReward: -1)

    enum CodingKeys: String, CodingKey {
        case correctReward = "correct_reward"
        case incorrectReward = "incorrect_reward"
        case formatReward = "format_reward"
        case relativeTolerance = "relative_tolerance"
    }
}

/// One scored response.
public struct RewardOutcome: Sendable, Equatable {
    public var reward: Double
    public var grade: GradeResult
    /// Whether the response gave its final answer in `\boxed{}`.
    public var formatted: Bool
}

public struct MathReward: Sendable {
    public var config: MathRewardConfig
    public var grader: MathGrader

    public init(config: MathRewardConfig = .zeroOne) {
        self.config = config
        self.grader = MathGrader(relativeTolerance: config.relativeTolerance)
    }

    public func score(response: String, reference: String, absoluteTolerances: [Double] = []) -> RewardOutcome {
        let grade = grader.grade(response: response, reference: reference, absoluteTolerances: absoluteTolerances)
        let formatted = grade.source == .boxed
        var reward = grade.correct ? config.correctReward : config.incorrectReward
        if formatted { reward += config.formatReward }
        return RewardOutcome(reward: reward, grade: grade, formatted: formatted)
    }

    /// Scores a response to a dataset record (its answer, and its tolerance when it has one).
    public func score(response: String, record: MathRecord) -> RewardOutcome {
        score(response: response, reference: record.answer, absoluteTolerances: record.tolerance.map { [$0] } ?? [])
    }

    public func callAsFunction(response: String, reference: String) -> Double {
        score(response: response, reference: reference).reward
    }
}
