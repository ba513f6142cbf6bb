// The grader against third-party verdicts (committed fixtures, see Fixtures/SOURCE.md):
// math-verify on Qwen2.5-Math's 800 graded responses, MATH-500's reference solutions, the
// OlympiadBench judge examples, and GSM8K answers written with thousands separators.

import Foundation
import IO
import Testing
@testable import Training

let trainingFixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

@Suite struct GraderAgreementTests {
    let grader = MathGrader()

    @Test func agreesWithMathVerifyOnQwenResponses() throws {
        let lines = try JSONLines.read(contentsOf: trainingFixtures.appendingPathComponent("qwen25_math_cot_verdicts.jsonl"))
        #expect(lines.count == 800)
        var agreeMathVerify = 0, agreeQwen = 0
        var disagreements: [String] = []
        for line in lines {
            let result = grader.grade(response: try line.string("response"), reference: try line.string("answer"))
            let mathVerify = line.fields["math_verify"] == .bool(true)
            let qwen = line.fields["qwen_score"] == .bool(true)
            if result.correct == mathVerify {
                agreeMathVerify += 1
            } else {
                disagreements.append("idx \(line.fields["idx"]!) sample \(line.fields["sample"]!): ours \(result.correct) (\(result.extracted ?? "-"))")
            }
            if result.correct == qwen { agreeQwen += 1 }
        }
        let agreement = Double(agreeMathVerify) / Double(lines.count)
        #expect(agreement >= 0.99, "agreement with math-verify \(agreeMathVerify)/\(lines.count); \(disagreements)")
        // Qwen2.5-Math's own grader labels are a second, independent oracle.
        #expect(Double(agreeQwen) / Double(lines.count) >= 0.98, "agreement with Qwen labels \(agreeQwen)/\(lines.count)")
    }

    @Test func math500ReferenceSolutionsGradeCorrect() throws {
        let lines = try JSONLines.read(contentsOf: trainingFixtures.appendingPathComponent("math500_solutions.jsonl"))
        #expect(lines.count == 500)
        var wrong: [String] = []
        for line in lines {
            let result = grader.grade(response: try line.string("solution"), reference: try line.string("answer"))
            if !result.correct || result.source != .boxed { wrong.append(try line.string("unique_id")) }
        }
        #expect(wrong.isEmpty, "\(500 - wrong.count)/500 correct; failing: \(wrong)")
    }

    @Test func math500AnswersAreNotEquivalentToTheirNeighbours() throws {
        // Each answer against the next one in the file: a guard against a grader that says yes too easily.
        let lines = try JSONLines.read(contentsOf: trainingFixtures.appendingPathComponent("math500_solutions.jsonl"))
        let answers = try lines.map { try $0.string("answer") }
        var accepted: [String] = []
        for (a, b) in zip(answers, answers.dropFirst()) where MathGrader.normalize(a) != MathGrader.normalize(b) {
            if grader.isEquivalent(b, to: a) { accepted.append("\(b) ≡ \(a)") }
        }
        // The one accepted pair is a true match: test/algebra/1837.json answers `5`, the next
        // record (test/algebra/2193.json) answers `x=5`.
        #expect(accepted == ["x=5 ≡ 5"], "\(accepted)")
    }

    @Test func olympiadBenchJudgeExamples() throws {
        let data = try Data(contentsOf: trainingFixtures.appendingPathComponent("olympiadbench_scoring_examples.json"))
        let examples = try JSONValue(parsing: [UInt8](data))
        guard case let .array(items) = examples else { Issue.record("not an array"); return }
        var pairs = 0
        var mismatches: [String] = []
        for item in items {
            guard case let .object(example) = item, case let .string(gt)? = example["GT"],
                  case let .array(candidates)? = example["Ans"] else { Issue.record("bad example \(item)"); continue }
            for candidate in candidates {
                guard case let .object(c) = candidate, case let .string(answer)? = c["answer"],
                      case let .bool(expected)? = c["equal"] else { Issue.record("bad candidate"); continue }
                let tolerances: [Double]
                switch c["precision"] {
                case let .string(s)?: tolerances = [Double(s)!]
                case let .double(d)?: tolerances = [d]
                case let .array(list)?: tolerances = list.compactMap { if case let .double(d) = $0 { d } else { nil } }
                default: tolerances = []
                }
                pairs += 1
                if grader.isEquivalent(answer, to: gt, absoluteTolerances: tolerances) != expected {
                    mismatches.append("\(answer) vs \(gt) expected \(expected)")
                }
            }
        }
        #expect(pairs == 36)
        #expect(mismatches.isEmpty, "\(mismatches)")
    }

    @Test func gsm8kAnswersWithThousandsSeparators() throws {
        let url = trainingFixtures.appendingPathComponent("gsm8k_comma_answers.jsonl")
        let records = try DatasetReader.read(url, format: .gsm8k)
        #expect(records.count == 93)
        for record in records {
            #expect(record.answer.contains(","))
            let plain = record.answer.replacingOccurrences(of: ",", with: "")
            // The reference with commas matches answers with and without them, boxed or after ####.
            #expect(grader.isEquivalent(plain, to: record.answer), "\(plain) vs \(record.answer)")
            #expect(grader.isEquivalent(record.answer, to: plain))
            #expect(grader.grade(response: "So she pays $\\boxed{\(record.answer)}$.", reference: plain).correct)
            // The SFT target ends in the box and grades correct; the original solution too (via ####).
            let target = try #require(record.target)
            #expect(grader.grade(response: target, reference: record.answer).correct, "\(record.id)")
            #expect(!target.contains("<<") && !target.contains("####"))
            // One off is wrong.
            let off = String((Int(plain) ?? 0) + 1)
            #expect(!grader.isEquivalent(off, to: record.answer))
        }
    }
}
