// `bridge grade`: grade model responses against reference answers with the rule-based grader
// (final-answer extraction + mathematical equivalence) and report accuracy and rewards.

import ArgumentParser
import Foundation
import ShardStore
import Training

struct Grade: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Grade responses against reference answers.",
        discussion: """
            Reads a JSONL file whose lines hold `response` (the model output) and `answer` (the \
            reference final answer, a string or a number); an optional `tolerance` gives an allowed \
            absolute error. The final answer is the last \\boxed{...} (else `#### x`, "the answer is x", \
            or the last number) and is compared by mathematical equivalence.
            """)

    @Option(help: "JSONL file with `response` and `answer` on every line.")
    var input: String

    @Flag(help: "Print one JSON object per input line (`extracted`, `correct`, `reward`), then a summary object with `accuracy`.")
    var json = false

    @Option(parsing: .unconditional, help: "Reward for a correct answer.")
    var correctReward: Double = 1

    @Option(parsing: .unconditional, help: "Reward for an incorrect or missing answer (-1 gives the paper's ±1).")
    var incorrectReward: Double = 0

    @Option(parsing: .unconditional, help: "Extra reward when the final answer is given in \\boxed{} (0 = off).")
    var formatReward: Double = 0

    @Option(help: "Relative tolerance for inexact numbers (integers and fractions compare exactly).")
    var relativeTolerance: Double = 1e-5

    func validate() throws {
        guard relativeTolerance >= 0, relativeTolerance < 1 else {
            throw ValidationError("--relative-tolerance must lie in [0, 1)")
        }
    }

    func run() throws {
        let items: [Item]
        do {
            items = try Self.load(URL(fileURLWithPath: input))
        } catch {
            throw UserError(error.description)
        }

        let reward = MathReward(config: MathRewardConfig(
            correctReward: correctReward, incorrectReward: incorrectReward,
            formatReward: formatReward, relativeTolerance: relativeTolerance))
        var correct = 0
        var rewardSum = 0.0
        var rows: [(line: Int, outcome: RewardOutcome, answer: String)] = []
        for item in items {
            let outcome = reward.score(response: item.response, reference: item.answer, absoluteTolerances: item.tolerance)
            if outcome.grade.correct { correct += 1 }
            rewardSum += outcome.reward
            if json {
                print(JSONValue.object([
                    "line": .int(item.line),
                    "extracted": outcome.grade.extracted.map(JSONValue.string) ?? .null,
                    "source": outcome.grade.source.map { .string($0.rawValue) } ?? .null,
                    "correct": .bool(outcome.grade.correct),
                    "reward": .double(outcome.reward),
                ]).canonical)
            } else {
                rows.append((item.line, outcome, item.answer))
            }
        }
        let accuracy = items.isEmpty ? 0 : Double(correct) / Double(items.count)
        if json {
            print(JSONValue.object([
                "accuracy": .double(accuracy),
                "correct": .int(correct),
                "total": .int(items.count),
                "mean_reward": .double(items.isEmpty ? 0 : rewardSum / Double(items.count)),
            ]).canonical)
            return
        }
        printTable(rows)
        print(String(format: "accuracy: %.4f (%d/%d)", accuracy, correct, items.count))
    }

    struct Item {
        var line: Int
        var response: String
        var answer: String
        var tolerance: [Double]
    }

    static func load(_ url: URL) throws(DatasetError) -> [Item] {
        var items: [Item] = []
        for line in try JSONLines.read(contentsOf: url) {
            var tolerance: [Double] = []
            switch line.fields["tolerance"] {
            case nil, .null?: break
            case let .double(v)?: tolerance = [v]
            case let .int(v)?: tolerance = [Double(v)]
            default: throw .wrongType(file: line.file, line: line.line, key: "tolerance", expected: "a number")
            }
            items.append(Item(line: line.line, response: try line.string("response"),
                              answer: try line.answerText("answer"), tolerance: tolerance))
        }
        return items
    }

    private func printTable(_ rows: [(line: Int, outcome: RewardOutcome, answer: String)]) {
        func clip(_ s: String, _ n: Int) -> String {
            let flat = s.replacingOccurrences(of: "\n", with: " ")
            return flat.count <= n ? flat : String(flat.prefix(n - 1)) + "…"
        }
        func pad(_ s: String, _ n: Int) -> String { s + String(repeating: " ", count: max(0, n - s.count)) }
        print(pad("line", 6) + pad("correct", 9) + pad("extracted", 32) + "answer")
        for r in rows {
            print(pad(String(r.line), 6) + pad(r.outcome.grade.correct ? "yes" : "no", 9)
                + pad(clip(r.outcome.grade.extracted ?? "(none)", 30), 32) + clip(r.answer, 40))
        }
    }
}
