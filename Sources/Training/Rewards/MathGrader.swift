// The rule-based grader of ALGORITHM.md's evaluation protocol and RL reward: extract the final
// answer of a response and decide whether it is mathematically equal to the reference answer.
// Pure Swift, no CAS; see AnswerNormalization, AnswerForm and AnswerEquivalence for the rules.

/// The verdict on one response.
public struct GradeResult: Sendable, Equatable {
    /// The final answer found in the response (nil when it states none).
    public var extracted: String?
    /// How it was found.
    public var source: AnswerSource?
    public var correct: Bool

    public init(extracted: String?, source: AnswerSource?, correct: Bool) {
        self.extracted = extracted
        self.source = source
        self.correct = correct
    }
}

public struct MathGrader: Sendable, Equatable {
    /// Relative tolerance for inexact numbers (decimals, roots, π); integers and fractions compare exactly.
    public var relativeTolerance: Double

    public init(relativeTolerance: Double = 1e-5) {
        precondition(relativeTolerance >= 0 && relativeTolerance < 1, "relativeTolerance must lie in [0, 1)")
        self.relativeTolerance = relativeTolerance
    }

    /// Grades a full response against a reference answer.
    /// - Parameter absoluteTolerances: allowed absolute error, one for all numbers or one per
    ///   element of a reference list (OlympiadBench's `error`, its judge's `precision`).
    public func grade(response: String, reference: String, absoluteTolerances: [Double] = []) -> GradeResult {
        guard let found = AnswerExtraction.extract(from: response) else {
            return GradeResult(extracted: nil, source: nil, correct: false)
        }
        let correct = isEquivalent(found.text, to: reference, absoluteTolerances: absoluteTolerances)
        return GradeResult(extracted: found.text, source: found.source, correct: correct)
    }

    /// Whether an answer (already extracted; `\boxed{}` is unwrapped if present) equals the reference.
    public func isEquivalent(_ answer: String, to reference: String, absoluteTolerances: [Double] = []) -> Bool {
        if answer.utf8.count > 8 * Self.maximumParsedLength || reference.utf8.count > 8 * Self.maximumParsedLength {
            return answer.trimmingSpaces == reference.trimmingSpaces
        }
        let a = AnswerNormalizer.normalize(answer)
        let r = AnswerNormalizer.normalize(reference)
        if a.isEmpty || r.isEmpty { return false }
        if a == r { return true }
        // Answers this long are not short mathematical answers; compare them as text only.
        if a.count > Self.maximumParsedLength || r.count > Self.maximumParsedLength { return false }
        let equivalence = AnswerEquivalence(relativeTolerance: relativeTolerance, absoluteTolerances: absoluteTolerances)
        return equivalence.equivalent(reference: AnswerForm.parse(r), candidate: AnswerForm.parse(a))
    }

    /// Longer normalised answers are compared as strings only (bounds the work per response).
    public static let maximumParsedLength = 2000

    /// The normalised spelling the grader compares (useful to see why two answers differ).
    public static func normalize(_ answer: String) -> String {
        AnswerNormalizer.normalize(answer)
    }
}
