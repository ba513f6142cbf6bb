// The grader's rules one by one: extraction, normalisation, numeric and symbolic equivalence,
// structured answers, and the reward configuration.

import Testing
@testable import Training

@Suite struct AnswerExtractionTests {
    @Test func lastBoxedWithNestedBraces() {
        let response = "First \\boxed{1}. Then $\\boxed{\\frac{\\sqrt{3}}{2}}$ is the answer."
        #expect(AnswerExtraction.extract(from: response) == ExtractedAnswer(text: "\\frac{\\sqrt{3}}{2}", source: .boxed))
    }

    @Test func boxedWithoutBracesAndFbox() {
        #expect(AnswerExtraction.extract(from: "so $\\boxed 5$.")?.text == "5")
        #expect(AnswerExtraction.extract(from: "\\fbox{12} done")?.text == "12")
        #expect(AnswerExtraction.extract(from: "\\boxed{3} and later \\fbox{4}")?.text == "4")
    }

    @Test func escapedBracesInsideBox() {
        #expect(AnswerExtraction.lastBoxed(in: "\\boxed{\\{1, 2\\}}") == "\\{1, 2\\}")
    }

    @Test func unterminatedLastBoxIsNoAnswer() {
        #expect(AnswerExtraction.extract(from: "\\boxed{3} ... so \\boxed{\\frac{1}{") == nil)
    }

    @Test func gsm8kMarkerAndFallbacks() {
        #expect(AnswerExtraction.extract(from: "She has 5.\n#### 1,080\n") == ExtractedAnswer(text: "1,080", source: .gsm8k))
        #expect(AnswerExtraction.extract(from: "So the answer is $\\frac{1}{2}$.")
            == ExtractedAnswer(text: "\\frac{1}{2}", source: .answerPhrase))
        #expect(AnswerExtraction.extract(from: "Final answer: 3.5. Done")?.text == "3.5")
        #expect(AnswerExtraction.extract(from: "He pays 12 then 30, 1,200 in all\nA: -7")
            == ExtractedAnswer(text: "-7", source: .lastNumber))
        #expect(AnswerExtraction.extract(from: "no numbers here") == nil)
    }
}

@Suite struct AnswerEquivalenceTests {
    let grader = MathGrader()

    /// (candidate, reference) pairs that must be equal.
    static let equal: [(String, String)] = [
        // integers, separators, leading zeros, decimals
        ("1080", "1,080"), ("1,080", "1080"), ("900000000", "900,\\!000,\\!000"), ("10000", "10{,}000"),
        ("25", "025"), ("-5", "-5"), ("37.5", "37.50"), ("0.5", "\\frac{1}{2}"), ("1000", "1\\,000"),
        ("11111111100", "11,\\! 111,\\! 111,\\! 100"), (".4", "0.4"), ("1e-3", "0.001"),
        // fractions
        ("\\frac{1}{9}", "\\dfrac{1}{9}"), ("\\tfrac{3}{50}", "0.06"), ("\\frac12", "1/2"), ("\\frac1{2}", "0.5"),
        ("-\\frac{40}{153}", "\\frac{-40}{153}"), ("1\\frac{1}{10}", "\\frac{11}{10}"), ("12\\frac{3}{5}", "12.6"),
        ("\\left(\\frac{1}{3}\\right)", "1/3"), ("\\frac{10}{9}", "10/9"), ("\\cfrac{1}{3}", "1/3"),
        // percentages, units, text, degrees, money
        ("25", "25\\%"), ("0.25", "25\\%"), ("60\\%", "0.6"), ("198", "198\\%"),
        ("100", "100\\text{ square units}"), ("5", "5 \\mbox{cm}^2"), ("10 cm", "10"),
        ("48", "48^\\circ"), ("120^{\\circ}", "120"), ("6", "\\$6"), ("6 dollars", "6"),
        ("\\text{Evelyn}", "Evelyn"), ("(C)", "\\text{(C)}"), ("C", "\\textbf{(C)}"),
        ("4:30 \\text{ p.m.}", "\\text{4:30 p.m.}"), ("25^\\circ C", "25"), ("2 and 3", "3, 2"),
        ("\\left( \\text{even} \\right)", "\\text{even}"), ("\\left( 7, -2, \\text{ and } -5 \\right)", "7, -2, \\text{ and } -5"),
        ("((3, 4))", "(3, 4)"), ("(1, -3)", "1, -3"), ("- 3   +   6 i", "-3 + 6i"),
        // roots, π, scientific notation, spacing
        ("2\\sqrt{3}", "\\sqrt{12}"), ("\\sqrt2", "\\sqrt{2}"), ("\\sqrt[3]{8}", "2"), ("7\\pi", "7 \\pi"),
        ("\\pi/2", "\\frac{\\pi}{2}"), ("1.5 \\times 10^{-3}", "0.0015"), ("7.8\\times 10^2", "780"),
        ("3 \\cdot 10^{8}", "3e8"), ("2 \\! \\cdot \\, 5", "10"), ("\\sqrt{34}+3\\sqrt{10}", "3\\sqrt{10}+\\sqrt{34}"),
        ("\\frac{\\sqrt{3}}{2}", "0.8660254"),
        // x = 5 style, relations
        ("x = 5", "5"), ("5", "x=5"), ("k = \\frac{1}{3}", "1/3"), ("x = 5+5+1 = 11", "11"),
        ("\\frac{1}{3} \\approx 0.33", "1/3"), ("y = -\\frac{1}{2}x + 3", "y=3-\\frac{x}{2}"),
        ("2x + 4y = 6", "x + 2y = 3"), ("x > 5", "5 < x"), ("-x > -1", "x < 1"), ("x \\geq 5", "x >= 5"),
        // symbolic
        ("4a-2", "-2+4a"), ("x^2+7x+10", "(x+2)(x+5)"), ("\\frac{x+2}{7}", "\\frac{x}{7}+\\frac{2}{7}"),
        ("\\sec^2(y)", "\\tan^2(y)+1"), ("e^{i}", "e^i"), ("\\ln(e^2)", "2"), ("\\log_2 8", "3"), ("5!", "120"),
        ("\\binom{5}{2}", "10"), ("|-3|", "3"),
        // tuples, intervals, sets, lists, matrices
        ("\\left( 3, \\frac{\\pi}{2} \\right)", "(3,\\frac{\\pi}{2})"), ("(1,4.5)", "(1,\\frac{9}{2})"),
        ("[-2, 7)", "[-2,7)"), ("(-\\infty, 1] \\cup [10, \\infty)", "(-\\infty,1]\\cup[10,+\\infty)"),
        ("x \\in [-2,7]", "[-2, 7]"), ("3, 1, 2", "1, 2, 3"), ("\\{1, 2\\}", "1,2"), ("(3,1),(2,1)", "(2,1),(3,1)"),
        ("1 \\pm \\sqrt{2}", "1+\\sqrt{2}, 1-\\sqrt{2}"), ("12 \\text{ and } 13", "12, 13"), ("\\emptyset", "\\varnothing"),
        ("\\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix}", "\\begin{pmatrix}1&2\\\\3&4\\end{pmatrix}"),
        ("\\begin{pmatrix} 0.5 \\\\ 1 \\end{pmatrix}", "\\begin{pmatrix} \\frac{1}{2} \\\\ 1 \\end{pmatrix}"),
        ("\\boxed{7}", "7"), ("$\\frac{14}{3}$", "\\frac{14}{3}"),
    ]

    /// (candidate, reference) pairs that must differ.
    static let different: [(String, String)] = [
        ("9999", "10{,}000"), ("9999\\frac{6}{7}", "10{,}000"), ("9999.857142857143", "10,000"), ("6287000", "6290000"),
        ("\\frac{5}{16}", "\\frac{3}{8}"), ("1\\frac{8}{91}", "1\\frac{1}{10}"), ("0.33", "\\frac{1}{3}"),
        ("C", "A"), ("4:30", "\\text{4:30 p.m.}"), ("4:30 a.m.", "4:30 p.m."), ("12.5", "25\\%"), ("x = 2", "x = 1"),
        ("y = 1", "x = 1"), ("x < 5", "x > 5"), ("x \\le 5", "x < 5"), ("2x + 4y = 7", "x + 2y = 3"),
        ("[0,1)", "[0,9)"), ("(0,9)", "[0,9)"), ("(1,2)", "(2,1)"), ("1, 2", "1, 2, 3"), ("[1,2]", "1, 2"),
        ("x^2 - 7x + 10", "(x+2)(x+5)"), ("\\sqrt{3}", "\\sqrt{2}"), ("3\\pi", "3"), ("0.64", "0.64N"),
        ("10^{10}", "10^{10^{10^{10}}}"), ("\\frac{1+\\sqrt{5}}{2}", "2"), ("", "5"), ("5", ""),
        ("\\text{Evelyn}", "\\text{Briana}"), ("1 000", "1"), ("28", "0.28"), ("1 5", "15"), ("(-3, 1)", "1, -3"),
    ]

    @Test(arguments: equal)
    func equalAnswers(_ pair: (String, String)) {
        #expect(grader.isEquivalent(pair.0, to: pair.1), "\(pair.0) ≡ \(pair.1): normalised \(MathGrader.normalize(pair.0)) vs \(MathGrader.normalize(pair.1))")
    }

    @Test(arguments: different)
    func differentAnswers(_ pair: (String, String)) {
        #expect(!grader.isEquivalent(pair.0, to: pair.1), "\(pair.0) ≢ \(pair.1)")
    }

    @Test func absoluteTolerancePerListElement() {
        #expect(grader.isEquivalent("7.1 \\cdot 10^{35}", to: "7 \\times 10^{35}", absoluteTolerances: [1e34]))
        #expect(!grader.isEquivalent("7.1 \\cdot 10^{35}", to: "7 \\times 10^{35}", absoluteTolerances: [1e33]))
        #expect(grader.isEquivalent("0.001, 7.1 \\cdot 10^{35}", to: "7 \\times 10^{35}, 0.002", absoluteTolerances: [1e34, 1e-3]))
        #expect(!grader.isEquivalent("0.001, 7.1 \\cdot 10^{35}", to: "7 \\times 10^{35}, 0.002", absoluteTolerances: [1e33, 1e-3]))
    }

    @Test func degenerateNestingIsRefusedWithoutCrashing() {
        // Redundant parentheses are peeled; nested products beyond the parser's depth are refused.
        let nested = { (n: Int) in String(repeating: "(", count: n) + "1" + String(repeating: ")", count: n) }
        #expect(grader.isEquivalent(nested(200), to: "1"))
        #expect(!grader.isEquivalent(nested(100_000), to: "1"))
        let product = { (n: Int) in String(repeating: "2(", count: n) + "1" + String(repeating: ")", count: n) }
        #expect(grader.isEquivalent(product(20), to: "1048576"))
        #expect(!grader.isEquivalent(product(300), to: "2^{300}"))
        #expect(!grader.grade(response: "\\boxed{" + String(repeating: "\\frac{", count: 5000) + "}", reference: "1").correct)
        let deepText = String(repeating: "\\text{", count: 20_000) + "1" + String(repeating: "}", count: 20_000)
        #expect(!grader.grade(response: "\\boxed{" + deepText + "}", reference: "1").correct)
    }

    @Test func relativeToleranceIsConfigurable() {
        #expect(MathGrader().isEquivalent("3.14159", to: "\\pi"))
        #expect(!MathGrader().isEquivalent("3.14", to: "\\pi"))
        #expect(MathGrader(relativeTolerance: 1e-3).isEquivalent("3.14", to: "\\pi"))
        // Integers stay exact whatever the tolerance.
        #expect(!MathGrader(relativeTolerance: 1e-2).isEquivalent("999", to: "1000"))
    }

    @Test func gradeReportsExtraction() {
        let r = grader.grade(response: "Thus the total is $\\boxed{1,080}$ dollars.", reference: "1080")
        #expect(r == GradeResult(extracted: "1,080", source: .boxed, correct: true))
        #expect(grader.grade(response: "I do not know.", reference: "3") == GradeResult(extracted: nil, source: nil, correct: false))
    }
}

@Suite struct MathRewardTests {
    @Test func zeroOneByDefault() {
        let reward = MathReward()
        #expect(reward(response: "\\boxed{4}", reference: "4") == 1)
        #expect(reward(response: "\\boxed{5}", reference: "4") == 0)
    }

    @Test func plusMinusOne() {
        let reward = MathReward(config: .plusMinusOne)
        #expect(reward(response: "\\boxed{4}", reference: "4") == 1)
        #expect(reward(response: "the answer is 5", reference: "4") == -1)
        #expect(reward(response: "", reference: "4") == -1)
    }

    @Test func formatComponentOnlyWhenEnabled() {
        let reward = MathReward(config: MathRewardConfig(correctReward: 1, incorrectReward: 0, formatReward: 0.1))
        #expect(reward.score(response: "\\boxed{5}", reference: "4").reward == 0.1)
        #expect(reward.score(response: "\\boxed{4}", reference: "4").reward == 1.1)
        let unboxed = reward.score(response: "The answer is 4.", reference: "4")
        #expect(unboxed.reward == 1 && !unboxed.formatted && unboxed.grade.source == .answerPhrase)
    }
}
