// Readers for the math datasets in their published JSONL layouts (see each SOURCE.md in
// ../shared/data), all into MathRecord. The format is detected from the first object's fields
// unless given.

import Foundation
import IO

public enum DatasetFormat: String, CaseIterable, Sendable {
    /// MathRecord's own JSONL (`id`, `prompt`, `answer`, optional `target`…): the synthetic task's output.
    case bridge
    /// `question`, `answer` = worked solution with `<<calc>>` annotations and a last line `#### x`.
    case gsm8k
    /// `problem`, `solution` (answer in the last `\boxed{}`), `level` "Level n", `unique_id`.
    case math
    /// `problem`, `solution`, `answer`, `level` (int), `unique_id`.
    case math500
    /// `id`, `problem`, `solution`, `answer` (three digits, leading zeros kept).
    case aime24
    /// `id`, `problem`, `answer` (a number such as 27.0); no solutions.
    case amc23
    /// `problem`, `solution` (answer in `\boxed{}`), `idx`.
    case minervaMath = "minerva_math"
    /// `id`, `question`, `solution` (a list), `final_answer` (a list), `error` (a tolerance or null).
    case olympiadBench = "olympiadbench"

    /// The format whose fields these are, if any.
    public static func detect(keys: Set<String>) -> DatasetFormat? {
        if keys.contains("final_answer") { return .olympiadBench }
        if keys.isSuperset(of: ["prompt", "answer", "id"]) { return .bridge }
        if keys.isSuperset(of: ["question", "answer"]), !keys.contains("problem") { return .gsm8k }
        if keys.isSuperset(of: ["problem", "solution", "answer", "unique_id"]) { return .math500 }
        if keys.isSuperset(of: ["problem", "solution", "unique_id"]) { return .math }
        if keys.isSuperset(of: ["problem", "solution", "idx"]) { return .minervaMath }
        if keys.isSuperset(of: ["problem", "answer", "solution", "id"]) { return .aime24 }
        if keys.isSuperset(of: ["problem", "answer", "id"]) { return .amc23 }
        return nil
    }
}

public enum DatasetReader {
    /// Reads a dataset file into records (format detected from its first object when nil).
    public static func read(_ url: URL, format: DatasetFormat? = nil) throws(DatasetError) -> [MathRecord] {
        let lines = try JSONLines.read(contentsOf: url)
        let stem = url.deletingPathExtension().lastPathComponent
        return try records(from: lines, file: url.path, stem: stem, format: format)
    }

    /// The usual "MATH 12k" training set: every MATH train and test problem (files `train_*.jsonl`
    /// and `test_*.jsonl` of `mathDirectory`) except MATH-500's, which are kept for evaluation.
    public static func math12k(mathDirectory: URL, math500: URL) throws(DatasetError) -> [MathRecord] {
        let names: [String]
        do { names = try InputFile.list(mathDirectory.path) } catch { throw .unreadable(file: mathDirectory.path, reason: error.reason) }
        let files = names.filter { ($0.hasPrefix("train_") || $0.hasPrefix("test_")) && $0.hasSuffix(".jsonl") }.sorted()
        guard !files.isEmpty else {
            throw .unreadable(file: mathDirectory.path, reason: "no train_*.jsonl or test_*.jsonl files")
        }
        let evaluation = Set(try read(math500, format: .math500).map(\.id))
        var out: [MathRecord] = []
        for name in files {
            out += try read(mathDirectory.appendingPathComponent(name), format: .math).excluding(ids: evaluation)
        }
        return out
    }

    /// Converts parsed JSONL objects; `stem` names GSM8K records (`gsm8k/<stem>/<index>`).
    public static func records(from lines: [JSONLine], file: String, stem: String, format: DatasetFormat? = nil) throws(DatasetError) -> [MathRecord] {
        guard let first = lines.first else { return [] }
        guard let kind = format ?? DatasetFormat.detect(keys: Set(first.fields.keys)) else {
            throw .unknownFormat(file: file, keys: first.fields.keys.sorted())
        }
        var out: [MathRecord] = []
        out.reserveCapacity(lines.count)
        for (index, line) in lines.enumerated() {
            out.append(try record(line, format: kind, index: index, stem: stem))
        }
        return out
    }

    static func record(_ line: JSONLine, format: DatasetFormat, index: Int, stem: String) throws(DatasetError) -> MathRecord {
        switch format {
        case .bridge:
            var level: Int?
            if line.fields["level"] != nil, line.fields["level"] != .null { level = try line.int("level") }
            var tolerance: Double?
            if let t = line.fields["tolerance"], t != .null {
                guard let v = t.answerText.flatMap(Double.init) else {
                    throw .wrongType(file: line.file, line: line.line, key: "tolerance", expected: "a number")
                }
                tolerance = v
            }
            return MathRecord(
                id: try line.answerText("id"), source: try line.optionalString("source") ?? "bridge",
                prompt: try line.string("prompt"), answer: try line.answerText("answer"),
                target: try line.optionalString("target"), tolerance: tolerance, level: level)

        case .gsm8k:
            let solution = try line.string("answer")
            guard let final = GSM8K.finalAnswer(solution) else {
                throw .invalidValue(file: line.file, line: line.line, key: "answer", reason: "no '#### <answer>' line")
            }
            return MathRecord(
                id: "gsm8k/\(stem)/\(index)", source: format.rawValue, prompt: try line.string("question"),
                answer: final, target: GSM8K.target(solution))

        case .math, .math500:
            let solution = try line.string("solution")
            let answer: String
            if format == .math500 {
                answer = try line.string("answer")
            } else {
                guard let boxed = AnswerExtraction.lastBoxed(in: solution) else {
                    throw .invalidValue(file: line.file, line: line.line, key: "solution", reason: "no \\boxed{} answer")
                }
                answer = boxed
            }
            var level: Int?
            switch line.fields["level"] {
            case let .int(n)?: level = n
            case let .string(s)?: level = Int(s.replacingOccurrences(of: "Level ", with: ""))
            default: level = nil
            }
            return MathRecord(
                id: try line.string("unique_id"), source: format.rawValue, prompt: try line.string("problem"),
                answer: answer, target: SFTTarget.ending(solution, withAnswer: answer), level: level)

        case .aime24:
            let answer = try line.answerText("answer")
            let solution = try line.optionalString("solution")
            return MathRecord(
                id: "aime24/\(try line.answerText("id"))", source: format.rawValue, prompt: try line.string("problem"),
                answer: answer, target: solution.map { SFTTarget.ending($0, withAnswer: answer) })

        case .amc23:
            return MathRecord(
                id: "amc23/\(try line.answerText("id"))", source: format.rawValue, prompt: try line.string("problem"),
                answer: try line.answerText("answer"))

        case .minervaMath:
            let solution = try line.string("solution")
            guard let boxed = AnswerExtraction.lastBoxed(in: solution) else {
                throw .invalidValue(file: line.file, line: line.line, key: "solution", reason: "no \\boxed{} answer")
            }
            return MathRecord(
                id: "minerva_math/\(try line.answerText("idx"))", source: format.rawValue,
                prompt: try line.string("problem"), answer: boxed, target: solution)

        case .olympiadBench:
            let answers = try line.stringArray("final_answer")
            guard !answers.isEmpty else {
                throw .invalidValue(file: line.file, line: line.line, key: "final_answer", reason: "empty list")
            }
            let answer = answers.map(OlympiadBench.stripMathDelimiters).joined(separator: ", ")
            var tolerance: Double?
            if let e = try line.optionalString("error") {
                guard let v = Double(e.trimmingSpaces) else {
                    throw .invalidValue(file: line.file, line: line.line, key: "error", reason: "'\(e)' is not a number")
                }
                tolerance = v
            }
            var prompt = try line.string("question")
            if let context = try line.optionalString("context"), !context.isEmpty { prompt = context + "\n" + prompt }
            let solutions = try line.stringArray("solution")
            return MathRecord(
                id: "olympiadbench/\(try line.answerText("id"))", source: format.rawValue, prompt: prompt,
                answer: answer, target: solutions.first.map { SFTTarget.ending($0, withAnswer: answer) },
                tolerance: tolerance)
        }
    }
}

/// GSM8K's solution layout: calculator annotations `<<48/2=24>>` inline, last line `#### 72`.
public enum GSM8K {
    /// The text after the last `####` (thousands separators kept, as written).
    public static func finalAnswer(_ solution: String) -> String? {
        AnswerExtraction.afterLastMarker(in: solution, marker: "####")
    }

    /// The solution without calculator annotations, its `#### x` line replaced by
    /// "The final answer is $\boxed{x}$." (thousands separators dropped inside the box).
    public static func target(_ solution: String) -> String? {
        guard let answer = finalAnswer(solution) else { return nil }
        var text = removeAnnotations(solution)
        if let r = text.range(of: "####", options: .backwards) {
            text = String(text[..<r.lowerBound])
        }
        let plain = AnswerNormalizer.removeThousandsSeparators(answer)
        return text.trimmingSpaces + "\n" + SFTTarget.finalSentence(plain)
    }

    /// Removes every `<<…>>` calculator annotation.
    public static func removeAnnotations(_ text: String) -> String {
        var out = ""
        var rest = Substring(text)
        while let open = rest.range(of: "<<"), let close = rest[open.upperBound...].range(of: ">>") {
            out += rest[..<open.lowerBound]
            rest = rest[close.upperBound...]
        }
        return out + rest
    }
}

enum OlympiadBench {
    /// `$69$` → `69`; `$\frac{1}{2}$` → `\frac{1}{2}` (escaped `\$` kept).
    static func stripMathDelimiters(_ s: String) -> String {
        var out = ""
        var previous: Character = " "
        for c in s {
            if c == "$", previous != "\\" { previous = c; continue }
            out.append(c)
            previous = c
        }
        return out.trimmingSpaces
    }
}
