// The synthetic arithmetic task: deterministic per (seed, index), disjoint splits, correct worked
// solutions, difficulty that follows the level, and JSONL that reads back through DatasetReader.

import Foundation
import Testing
import TestSupport
@testable import Training

@Suite struct SyntheticArithmeticTests {
    @Test func sameSeedAndIndexGiveTheSameProblem() throws {
        let a = try SyntheticArithmetic(seed: 42, level: 3)
        let b = try SyntheticArithmetic(seed: 42, level: 3)
        for i: UInt64 in [0, 1, 17, 1_000_003] { #expect(a.problem(at: i) == b.problem(at: i)) }
        // Problem i does not depend on which problems were generated before it.
        let listed = a.problems(count: 50, split: .train)
        for p in listed { #expect(a.problem(at: p.index) == p) }
        let other = try SyntheticArithmetic(seed: 43, level: 3)
        #expect((0..<20).filter { a.problem(at: UInt64($0)).text != other.problem(at: UInt64($0)).text }.count >= 15)
    }

    @Test func pinnedProblemsDoNotDriftAcrossMachines() throws {
        // Fixed outputs of the counter-based generator (pure 64-bit integer arithmetic, no Hasher,
        // no system RNG): a change here changes every synthetic dataset.
        let task = try SyntheticArithmetic(seed: 7, level: 1)
        #expect(task.problem(at: 0).text == "What is 8 * 4?")
        #expect(task.problem(at: 0).solution == "8 * 4 = 32.\nThe answer is \\boxed{32}.")
        #expect(task.problem(at: 1).text == "Compute 1 + 4.")
        // SplitMix64's published first output for state 0, and two draws of one stream, computed
        // independently in Python (64-bit wrapping arithmetic).
        #expect(SymbolicProbe.splitMix64(0) == 0xe220_a839_7b1d_cdaf)
        var rng = CounterRandom(seed: 1, stream: 2, counter: 3)
        #expect(rng.next() == 18_381_394_473_525_836_827)
        #expect(rng.next() == 5_376_786_405_562_731_688)
    }

    @Test(arguments: SyntheticArithmetic.Difficulty.levels)
    func solutionsAreRightAndEndInABox(level: Int) throws {
        let task = try SyntheticArithmetic(seed: 1, level: level)
        let difficulty = try #require(SyntheticArithmetic.Difficulty.level(level))
        let grader = MathGrader()
        for p in task.problems(count: 60, split: .train) {
            #expect(p.solution.hasSuffix("\\boxed{\(p.answer)}."))
            #expect(grader.grade(response: p.solution, reference: String(p.answer)).correct)
            // One line per operation plus the answer line; every line checks out.
            let lines = p.solution.split(separator: "\n")
            #expect(lines.count == difficulty.operations + 1)
            for line in lines.dropLast() { try expectStepIsRight(String(line)) }
            #expect(p.answer >= 0 && p.answer <= difficulty.resultLimit)
            if !p.text.hasPrefix("Compute") && !p.text.hasPrefix("What is") {
                #expect(difficulty.wordProblems && p.text.hasSuffix("have now?"), "\(p.text)")
            }
        }
    }

    @Test func expressionProblemsEvaluateToTheirAnswer() throws {
        // The problem text itself, read by the grader's expression parser, equals the answer.
        let task = try SyntheticArithmetic(seed: 3, level: 5)
        var checked = 0
        for p in task.problems(count: 80, split: .train) where p.text.hasPrefix("Compute") || p.text.hasPrefix("What is") {
            let expression = p.text.replacingOccurrences(of: "Compute ", with: "").replacingOccurrences(of: "What is ", with: "")
                .trimmingCharacters(in: CharacterSet(charactersIn: ".?"))
            #expect(MathGrader().isEquivalent(expression, to: String(p.answer)), "\(p.text) = \(p.answer)")
            checked += 1
        }
        #expect(checked > 30)
    }

    @Test func splitsNeverOverlap() throws {
        // Across seeds, levels and families, because the split is a function of the problem text.
        var texts: [SyntheticArithmetic.Split: Set<String>] = [:]
        for seed: UInt64 in [0, 1] {
            for level in [1, 2] {
                for family in SyntheticArithmetic.Family.allCases {
                    let task = try SyntheticArithmetic(seed: seed, level: level, family: family)
                    texts[.train, default: []].formUnion(task.problems(count: 300, split: .train).map(\.text))
                    for split in [SyntheticArithmetic.Split.validation, .test] {
                        let problems = task.problems(count: 30, split: split)
                        #expect(Set(problems.map(\.text)).count == problems.count, "\(split) problems are distinct")
                        texts[split, default: []].formUnion(problems.map(\.text))
                    }
                }
            }
        }
        let train = texts[.train] ?? [], validation = texts[.validation] ?? [], test = texts[.test] ?? []
        #expect(train.count > 100 && validation.count > 30 && test.count > 30)
        #expect(train.isDisjoint(with: test) && train.isDisjoint(with: validation) && validation.isDisjoint(with: test))
        #expect(test.allSatisfy { SyntheticArithmetic.split(of: $0) == .test })
        #expect(validation.allSatisfy { SyntheticArithmetic.split(of: $0) == .validation })
        // about one in ten each, over many distinct problems
        let level5 = try SyntheticArithmetic(seed: 0, level: 5)
        let shares = (0..<3000).map { level5.problem(at: UInt64($0)).split }
        for split in [SyntheticArithmetic.Split.validation, .test] {
            let n = shares.filter { $0 == split }.count
            #expect((210...390).contains(n), "\(split): \(n) of 3000")
        }
    }

    @Test(arguments: SyntheticArithmetic.Difficulty.levels)
    func equationsAreSolvedByUndoingEachOperation(level: Int) throws {
        let task = try SyntheticArithmetic(seed: 2, level: level, family: .equations)
        let difficulty = try #require(SyntheticArithmetic.Difficulty.level(level))
        let grader = MathGrader()
        for p in task.problems(count: 60, split: .train) {
            #expect(p.text.hasPrefix("Find x if ") || p.text.hasPrefix("Solve for x: "), "\(p.text)")
            #expect(p.solution.hasSuffix("\\boxed{\(p.answer)}."))
            let lines = p.solution.split(separator: "\n")
            #expect(lines.count == difficulty.operations + 1)
            for line in lines.dropLast() { try expectStepIsRight(String(line)) }
            // x = answer satisfies the equation: its left side, with x replaced, evaluates to the right side
            let equation = p.text.replacingOccurrences(of: "Find x if ", with: "").replacingOccurrences(of: "Solve for x: ", with: "").dropLast()
            let sides = equation.split(separator: "=").map { $0.trimmingCharacters(in: .whitespaces) }
            try #require(sides.count == 2, "\(p.text)")
            #expect(sides[0].filter { $0 == "x" }.count == 1, "\(p.text)")
            let substituted = sides[0].replacingOccurrences(of: "x", with: "(\(p.answer))")
            #expect(grader.isEquivalent(substituted, to: sides[1]), "\(p.text): x = \(p.answer)")
            // the first undo step starts from the right side
            #expect(lines.count == 1 || lines[0].hasPrefix(sides[1] + " "), "\(p.solution)")
        }
        // another stream than the arithmetic family's: not the same problems reworded
        let arithmetic = try SyntheticArithmetic(seed: 2, level: level)
        #expect(task.records(count: 5, split: .train).allSatisfy { $0.id.hasPrefix("synthetic/eq-L\(level)/2/") })
        #expect((0..<20).filter { task.problem(at: UInt64($0)).answer != arithmetic.problem(at: UInt64($0)).answer }.count >= 10)
    }

    @Test func pinnedEquationsDoNotDriftAcrossMachines() throws {
        let task = try SyntheticArithmetic(seed: 0, level: 3, family: .equations)
        #expect(task.problem(at: 23).text == "Find x if (x - 26) * 2 = 128.")
        #expect(task.problem(at: 23).solution == "128 / 2 = 64.\n64 + 26 = 90.\nThe answer is \\boxed{90}.")
    }

    @Test func levelOneRunsOutOfDistinctTestProblems() throws {
        // One operation on digits has only a few hundred problems; asking for more returns what exists.
        let task = try SyntheticArithmetic(seed: 0, level: 1)
        let test = task.problems(count: 100, split: .test)
        #expect(test.count > 10 && test.count < 100)
    }

    @Test func higherLevelsAreHarder() throws {
        func meanMagnitude(_ level: Int) throws -> Double {
            let ps = try SyntheticArithmetic(seed: 5, level: level).problems(count: 100, split: .train)
            return ps.map { Double($0.solution.count) }.reduce(0, +) / Double(ps.count)
        }
        let lengths = try SyntheticArithmetic.Difficulty.levels.map(meanMagnitude)
        #expect(zip(lengths, lengths.dropFirst()).allSatisfy { $0 < $1 }, "\(lengths)")
    }

    @Test func badDifficultyIsAnError() {
        #expect(throws: DatasetError.self) { try SyntheticArithmetic(seed: 0, level: 6) }
        #expect(throws: DatasetError.self) {
            try SyntheticArithmetic(seed: 0, difficulty: .init(operations: 0, digits: 1, wordProblems: false))
        }
    }

    @Test func writesJSONLThatReadsBack() throws {
        let scratch = ScratchDirectory("synthetic")
        let url = URL(fileURLWithPath: scratch.file("train.jsonl"))
        let task = try SyntheticArithmetic(seed: 9, level: 2)
        let records = task.records(count: 25, split: .train)
        #expect(records.count == 25)
        #expect(records[0].id == "synthetic/L2/9/\(task.problems(count: 1, split: .train)[0].index)")
        try Data(records.jsonl.utf8).write(to: url)
        let back = try DatasetReader.read(url)
        #expect(back == records)
        #expect(back.allSatisfy { $0.source == "synthetic" && $0.level == 2 })
        // Writing the same records again gives the same bytes.
        let first = try Data(contentsOf: url)
        try Data(task.records(count: 25, split: .train).jsonl.utf8).write(to: url)
        #expect(try Data(contentsOf: url) == first)
    }

    /// `a op b = r.` with the arithmetic right.
    private func expectStepIsRight(_ line: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let parts = line.dropLast().split(separator: " ")
        try #require(parts.count == 5 && parts[3] == "=", "\(line)", sourceLocation: sourceLocation)
        let a = try #require(Int(parts[0])), b = try #require(Int(parts[2])), r = try #require(Int(parts[4]))
        switch parts[1] {
        case "+": #expect(a + b == r, sourceLocation: sourceLocation)
        case "-": #expect(a - b == r, sourceLocation: sourceLocation)
        case "*": #expect(a * b == r, sourceLocation: sourceLocation)
        case "/": #expect(b != 0 && a == b * r, sourceLocation: sourceLocation)
        default: Issue.record("unknown operator in \(line)", sourceLocation: sourceLocation)
        }
    }
}
