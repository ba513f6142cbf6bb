// The one record form every dataset is read into (and the JSONL form `bridge` writes): a problem,
// its reference final answer, and for SFT a target — worked reasoning ending in `\boxed{answer}`.
// Also the evaluation prompt of ALGORITHM.md.

import Foundation

public struct MathRecord: Sendable, Equatable, Codable {
    /// Stable identifier, e.g. `test/algebra/1.json` (MATH, MATH-500), `gsm8k/test/17`, `aime24/60`.
    public var id: String
    /// The dataset it came from (a DatasetFormat raw value, or `synthetic`).
    public var source: String
    /// The problem text.
    public var prompt: String
    /// The reference final answer, compared with MathGrader.
    public var answer: String
    /// Reasoning followed by the final answer in `\boxed{}`; nil when the dataset has no solution.
    public var target: String?
    /// Allowed absolute error of a numeric answer, when the dataset gives one (OlympiadBench `error`).
    public var tolerance: Double?
    /// Difficulty level when the dataset gives one (MATH 1–5, synthetic levels).
    public var level: Int?

    public init(id: String, source: String, prompt: String, answer: String, target: String? = nil,
                tolerance: Double? = nil, level: Int? = nil) {
        self.id = id
        self.source = source
        self.prompt = prompt
        self.answer = answer
        self.target = target
        self.tolerance = tolerance
        self.level = level
    }

    /// The instruction appended to every problem (Qwen2.5-Math's chain-of-thought prompt).
    public static let evaluationInstruction = "Please reason step by step, and put your final answer within \\boxed{}."

    /// Problem text, a newline, then the instruction (ALGORITHM.md, evaluation protocol).
    public var evaluationPrompt: String { Self.evaluationPrompt(for: prompt) }

    public static func evaluationPrompt(for problem: String) -> String {
        problem + "\n" + evaluationInstruction
    }

    /// The record as one canonical JSON line (sorted keys, absent optionals omitted).
    public var jsonLine: String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        // Encoding a struct of strings and numbers cannot fail.
        let data = try! encoder.encode(self)
        return String(decoding: data, as: UTF8.self)
    }
}

extension Array where Element == MathRecord {
    /// The records as JSONL, one `jsonLine` per record (what `bridge dataset synth --out` writes).
    public var jsonl: String { map { $0.jsonLine + "\n" }.joined() }

    /// Records with a non-empty reference answer (two MATH train solutions box nothing).
    public var answerable: [MathRecord] {
        filter { !$0.answer.trimmingSpaces.isEmpty }
    }

    /// Drops records whose id is in `ids` (e.g. MATH-500's `unique_id`s from MATH test).
    public func excluding(ids: Set<String>) -> [MathRecord] {
        filter { !ids.contains($0.id) }
    }
}

/// Solutions as SFT targets: keep a solution whose last `\boxed{}` already holds the answer,
/// otherwise append "The final answer is $\boxed{answer}$.".
enum SFTTarget {
    static func ending(_ solution: String, withAnswer answer: String) -> String {
        // A few MATH solutions box nothing (`\boxed{}`); there is no answer to append either.
        if answer.trimmingSpaces.isEmpty { return solution }
        if let boxed = AnswerExtraction.lastBoxed(in: solution), MathGrader().isEquivalent(boxed, to: answer) {
            return solution
        }
        return solution.trimmingSpaces + "\n\n" + finalSentence(answer)
    }

    static func finalSentence(_ answer: String) -> String {
        "The final answer is $\\boxed{\(answer)}$."
    }
}
