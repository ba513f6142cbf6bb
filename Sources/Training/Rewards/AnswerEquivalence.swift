// Mathematical equivalence of two answer shapes. Numbers: exact for rationals built from integer
// literals, relative tolerance otherwise, optional absolute tolerance per answer (OlympiadBench's
// `error`), percentages read as x or x/100. Expressions with variables: equal values at fixed
// pseudo-random points. Equations: same left side and equivalent right sides, or proportional
// (lhs − rhs). `x = 5` counts as `5` when x merely names the answer.

import Foundation

struct AnswerEquivalence: Sendable {
    /// Relative tolerance for inexact numbers (decimals, roots, π).
    var relativeTolerance: Double
    /// Absolute tolerances: one for every reference element of a top-level list, or one for all.
    var absoluteTolerances: [Double]

    func equivalent(reference: AnswerForm, candidate: AnswerForm) -> Bool {
        if case let .list(refs) = reference, absoluteTolerances.count > 1 {
            guard case let .list(cands) = candidate else { return false }
            return unorderedMatch(refs, cands) { i in absoluteTolerances[min(i, absoluteTolerances.count - 1)] }
        }
        return equal(reference, candidate, tolerance: absoluteTolerances.first)
    }

    private func equal(_ a: AnswerForm, _ b: AnswerForm, tolerance: Double?) -> Bool {
        switch (a, b) {
        case let (.list(x), .list(y)), let (.set(x), .set(y)), let (.list(x), .set(y)), let (.set(x), .list(y)),
             let (.union(x), .union(y)):
            return unorderedMatch(x, y) { _ in tolerance }
        case let (.tuple("(", ")", x), .list(y)), let (.list(x), .tuple("(", ")", y)):
            // `(1, -3)` for the solutions `1, -3`: the same values in the same order.
            return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1, tolerance: tolerance) }
        case let (.tuple(o1, c1, x), .tuple(o2, c2, y)):
            return o1 == o2 && c1 == c2 && x.count == y.count
                && zip(x, y).allSatisfy { equal($0, $1, tolerance: tolerance) }
        case let (.matrix(x), .matrix(y)):
            return x.count == y.count && zip(x, y).allSatisfy { r, s in
                r.count == s.count && zip(r, s).allSatisfy { equal($0, $1, tolerance: tolerance) }
            }
        case let (.relation(s1, o1), .relation(s2, o2)):
            return relationsEqual(s1, o1, s2, o2, tolerance: tolerance)
        case let (.relation(sides, ops), other), let (other, .relation(sides, ops)):
            guard let answer = assignedValue(sides, ops) else { return false }
            return equal(answer, other, tolerance: tolerance)
        case let (.scalar(x, p, t1), .scalar(y, q, t2)):
            if let verdict = scalarsEqual(x, p, y, q, tolerance: tolerance) { return verdict }
            return textEqual(t1, t2)
        case let (.text(t1), .text(t2)), let (.text(t1), .scalar(_, _, t2)), let (.scalar(_, _, t1), .text(t2)):
            return textEqual(t1, t2)
        default:
            return false
        }
    }

    /// Every element of `x` matched to a distinct element of `y` (greedy; equivalence is transitive).
    private func unorderedMatch(_ x: [AnswerForm], _ y: [AnswerForm], tolerance: (Int) -> Double?) -> Bool {
        guard x.count == y.count else { return false }
        var used = [Bool](repeating: false, count: y.count)
        for (i, item) in x.enumerated() {
            guard let j = y.indices.first(where: { !used[$0] && equal(item, y[$0], tolerance: tolerance(i)) }) else {
                return false
            }
            used[j] = true
        }
        return true
    }

    // MARK: relations

    /// The right side of `x = 5`, `a_n = 2n+1`, `f(x) = x^2`; a chain `x = 2 + 3 = 5` gives `5`.
    private func assignedValue(_ sides: [String], _ ops: [String]) -> AnswerForm? {
        guard ops.allSatisfy({ $0 == "=" }), let last = sides.last else { return nil }
        if ops.count == 1 {
            guard let lhs = MathExpressionParser.parse(sides[0]), lhs.isNameLike else { return nil }
        }
        return AnswerForm.parse(last)
    }

    private func relationsEqual(_ s1: [String], _ o1: [String], _ s2: [String], _ o2: [String], tolerance: Double?) -> Bool {
        guard o1.count == 1, o2.count == 1 else {
            if let a = assignedValue(s1, o1), let b = assignedValue(s2, o2) { return equal(a, b, tolerance: tolerance) }
            return s1 == s2 && o1 == o2
        }
        var (l2, r2, op2) = (s2[0], s2[1], o2[0])
        let flipped = ["<": ">", ">": "<", "<=": ">=", ">=": "<="]
        if let f = flipped[op2], f == o1[0] { (l2, r2, op2) = (r2, l2, f) }
        guard o1[0] == op2 else { return false }
        let (l1, r1) = (s1[0], s1[1])
        let lhs1 = MathExpressionParser.parse(l1), lhs2 = MathExpressionParser.parse(l2)
        if let lhs1, let lhs2, lhs1 == lhs2 || (scalarsEqual(lhs1, false, lhs2, false, tolerance: nil) ?? false) {
            return equal(AnswerForm.parse(r1), AnswerForm.parse(r2), tolerance: tolerance)
        }
        if l1.filter({ !$0.isWhitespace }) == l2.filter({ !$0.isWhitespace }) {
            return equal(AnswerForm.parse(r1), AnswerForm.parse(r2), tolerance: tolerance)
        }
        // Two names for different things (`x = 1` against `y = 1`) are different answers.
        if let lhs1, let lhs2, lhs1.isNameLike, lhs2.isNameLike { return false }
        guard op2 != "!=", let lhs1, let lhs2, let rhs1 = MathExpressionParser.parse(r1),
              let rhs2 = MathExpressionParser.parse(r2) else { return false }
        let f = MathExpr.binary(.subtract, lhs1, rhs1), g = MathExpr.binary(.subtract, lhs2, rhs2)
        // Inequalities were brought to the same direction above (`-x > -1` reads `-1 < -x`), so
        // the same inequality means a positive factor.
        return proportional(f, g, sign: op2 == "=" ? 0 : 1)
    }

    /// f = c·g for a constant c ≠ 0 at every probe point (c > 0 when `sign` is 1): the same
    /// implicit equation f = 0, or the same inequality f < 0.
    private func proportional(_ f: MathExpr, _ g: MathExpr, sign: Int) -> Bool {
        let symbols = f.symbols.union(g.symbols)
        var ratio: Double?
        var valid = 0
        for point in 0..<SymbolicProbe.pointCount {
            let env = SymbolicProbe.bindings(for: symbols, point: point)
            let x = f.evaluate(env), y = g.evaluate(env)
            guard x.isFinite, y.isFinite else { continue }
            let xZero = abs(x) < 1e-12, yZero = abs(y) < 1e-12
            if xZero && yZero { valid += 1; continue }
            if xZero != yZero { return false }
            let r = x / y
            if let ratio, !close(r, ratio, relative: 1e-8) { return false }
            ratio = ratio ?? r
            valid += 1
        }
        guard valid >= 3, let ratio else { return false }
        return sign == 0 || ratio > 0
    }

    // MARK: scalars

    /// nil when the values cannot be computed (the caller then compares text).
    private func scalarsEqual(_ x: MathExpr, _ xPercent: Bool, _ y: MathExpr, _ yPercent: Bool, tolerance: Double?) -> Bool? {
        let symbols = x.symbols.union(y.symbols)
        if !symbols.isEmpty { return functionsEqual(x, y, symbols: symbols) }
        let a = x.evaluate(), b = y.evaluate()
        guard !a.isNaN, !b.isNaN else { return nil }
        if a.isInfinite || b.isInfinite {
            // Only a written ∞ is infinite; an overflow (10^{10^{10}}) cannot be compared by value.
            guard (!a.isInfinite || x.mentionsInfinity), (!b.isInfinite || y.mentionsInfinity) else { return nil }
            return a == b
        }
        let exact = x.isExactRational && y.isExactRational
        let aValues = xPercent ? [a / 100, a] : [a]
        let bValues = yPercent ? [b / 100, b] : [b]
        for u in aValues {
            for v in bValues where numbersEqual(u, v, exact: exact, tolerance: tolerance) { return true }
        }
        return false
    }

    private func numbersEqual(_ a: Double, _ b: Double, exact: Bool, tolerance: Double?) -> Bool {
        if let tolerance, abs(a - b) <= tolerance * 1.01 { return true }
        if exact { return abs(a - b) <= 1e-12 * max(1, abs(a), abs(b)) }
        return close(a, b, relative: relativeTolerance)
    }

    private func close(_ a: Double, _ b: Double, relative: Double) -> Bool {
        if a == b { return true }
        return abs(a - b) <= relative * max(abs(a), abs(b))
    }

    /// Same values at the probe points (at least three points where both are defined).
    private func functionsEqual(_ x: MathExpr, _ y: MathExpr, symbols: Set<String>) -> Bool? {
        var valid = 0
        for point in 0..<SymbolicProbe.pointCount {
            let env = SymbolicProbe.bindings(for: symbols, point: point)
            let a = x.evaluate(env), b = y.evaluate(env)
            guard a.isFinite, b.isFinite else { continue }
            if !(close(a, b, relative: max(1e-9, relativeTolerance)) || abs(a - b) < 1e-12) { return false }
            valid += 1
        }
        return valid >= 3 ? true : nil
    }

    // MARK: text

    /// Case, braces and spacing aside; a space between two letters or digits still separates
    /// them (`1 5` is not `15`).
    private func textEqual(_ a: String, _ b: String) -> Bool {
        func key(_ s: String) -> String {
            let chars = Array(s.lowercased().filter { $0 != "{" && $0 != "}" })
            var out = ""
            for (i, c) in chars.enumerated() {
                if c.isWhitespace {
                    let before = out.last, after = chars[(i + 1)...].first { !$0.isWhitespace }
                    if let before, let after, before.isLetter || before.isNumber, after.isLetter || after.isNumber, out.last != " " {
                        out.append(" ")
                    }
                    continue
                }
                out.append(c)
            }
            return out.trimming(".")
        }
        let ka = key(a), kb = key(b)
        return !ka.isEmpty && ka == kb
    }
}
