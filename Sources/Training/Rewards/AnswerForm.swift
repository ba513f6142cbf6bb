// The shape of a normalised answer: a scalar expression, plain text, a comma list (order free),
// a set, a tuple or interval, a union of intervals, a matrix, or a relation (`x = 5`, `y < 3`).
// `\pm` expands into two answers. Equivalence of shapes lives in AnswerEquivalence.swift.

import Foundation

indirect enum AnswerForm: Sendable {
    /// An expression; `percent` when it was written with a trailing `%`.
    case scalar(MathExpr, percent: Bool, text: String)
    /// Anything that does not parse as mathematics, compared as text.
    case text(String)
    /// A bare comma-separated list of answers ("1, 3, 5"): order does not matter.
    case list([AnswerForm])
    /// `\{1, 2\}` or `\emptyset`.
    case set([AnswerForm])
    /// `(1, 2)`, `[0, 1)`, `(-\infty, 3]`: ordered, and the brackets must agree.
    case tuple(open: Character, close: Character, [AnswerForm])
    /// `(-\infty, 1] \cup [10, \infty)`.
    case union([AnswerForm])
    /// `\begin{pmatrix} … \end{pmatrix}` rows of cells.
    case matrix([[AnswerForm]])
    /// `lhs op rhs (op rhs)*` with op one of = < > \le \ge \ne (≈ reads as =).
    case relation(sides: [String], operators: [String])

    static func parse(_ s: String) -> AnswerForm {
        let s = s.trimmingSpaces
        if s.isEmpty { return .text("") }
        if s == "\\emptyset" || s == "\\{\\}" || s == "\\{ \\}" { return .set([]) }

        let unionParts = splitTopLevel(s, separator: "\\cup")
        if unionParts.count > 1 { return .union(unionParts.map(parse)) }

        if let rows = matrixRows(s) { return .matrix(rows.map { $0.map(parse) }) }

        let items = splitTopLevel(s, separator: ",")
        if items.count > 1 { return .list(items.flatMap(expandPlusMinus).map(parseItem)) }
        let expanded = expandPlusMinus(s)
        if expanded.count > 1 { return .list(expanded.map(parseItem)) }
        return parseItem(s)
    }

    /// One element: a set, a bracketed tuple or interval, a relation, or a scalar.
    private static func parseItem(_ s: String) -> AnswerForm {
        let s = s.trimmingSpaces
        if s.hasPrefix("\\{"), s.hasSuffix("\\}"), s.count >= 4 {
            let inner = String(s.dropFirst(2).dropLast(2))
            let parts = splitTopLevel(inner, separator: ",")
            if parts.count == 1, parts[0].trimmingSpaces.isEmpty { return .set([]) }
            return .set(parts.flatMap(expandPlusMinus).map(parseItem))
        }
        if let open = s.first, let close = s.last, "([".contains(open), ")]".contains(close), s.count >= 2,
           enclosesWhole(s) {
            let inner = String(s.dropFirst().dropLast())
            let parts = splitTopLevel(inner, separator: ",")
            if parts.count > 1 { return .tuple(open: open, close: close, parts.map(parseItem)) }
            // Redundant parentheses around a whole answer: `\left( x = 2 \right)`, `((1, 2))`.
            if open == "(", close == ")", !inner.trimmingSpaces.isEmpty { return parse(inner) }
        }
        var (sides, operators) = splitRelation(s)
        // `\frac{1}{3} \approx 0.33`, `x = 1/3 \approx 0.33`: an approximation after a value is a
        // remark; `\Delta p \approx -\frac{\hbar\omega}{c}` (a name, then ≈) is an assignment.
        if let k = operators.firstIndex(of: "~") {
            let firstIsName = MathExpressionParser.parse(sides[0])?.isNameLike ?? false
            if k > 0 || !firstIsName {
                sides = Array(sides[...k])
                operators = Array(operators[..<k])
            }
        }
        operators = operators.map { $0 == "~" ? "=" : $0 }
        if !operators.isEmpty { return .relation(sides: sides, operators: operators) }
        return scalar(sides[0])
    }

    static func scalar(_ s: String) -> AnswerForm {
        var body = s
        var percent = false
        if body.hasSuffix("%") {
            percent = true
            body = String(body.dropLast()).trimmingSpaces
        }
        if let expr = MathExpressionParser.parse(body) { return .scalar(expr, percent: percent, text: s) }
        return .text(s)
    }

    // MARK: splitting helpers

    /// Splits at `separator` outside (), [], {} (so `\{…\}` counts too).
    static func splitTopLevel(_ s: String, separator: String) -> [String] {
        let chars = Array(s)
        let sep = Array(separator)
        var parts: [String] = []
        var depth = 0
        var start = 0
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if "([{".contains(c) { depth += 1 }
            if ")]}".contains(c) { depth -= 1 }
            if depth == 0, i + sep.count <= chars.count, Array(chars[i..<(i + sep.count)]) == sep,
               !(sep.first == "\\" && i + sep.count < chars.count && chars[i + sep.count].isLetter) {
                parts.append(String(chars[start..<i]))
                i += sep.count
                start = i
                continue
            }
            i += 1
        }
        parts.append(String(chars[start...]))
        return parts.map(\.trimmingSpaces)
    }

    /// Whether the first bracket closes at the last character (so `(1,2),(3,4)` is not one tuple).
    private static func enclosesWhole(_ s: String) -> Bool {
        var depth = 0
        let chars = Array(s)
        for (i, c) in chars.enumerated() {
            if "([{".contains(c) { depth += 1 }
            if ")]}".contains(c) {
                depth -= 1
                if depth == 0 { return i == chars.count - 1 }
            }
        }
        return false
    }

    static let relationOperators: [(String, String)] = [
        ("\\approx", "~"), ("\\equiv", "="), ("\\simeq", "~"), ("\\le", "<="), ("\\ge", ">="),
        ("\\lt", "<"), ("\\gt", ">"), ("\\ne", "!="), ("<=", "<="), (">=", ">="), ("=", "="),
        ("<", "<"), (">", ">"),
    ]

    /// Splits `a = b < c` at top-level relation symbols.
    static func splitRelation(_ s: String) -> (sides: [String], operators: [String]) {
        let chars = Array(s)
        var sides: [String] = []
        var ops: [String] = []
        var depth = 0
        var start = 0
        var i = 0
        scan: while i < chars.count {
            let c = chars[i]
            if "([{".contains(c) { depth += 1 }
            if ")]}".contains(c) { depth -= 1 }
            if depth == 0 {
                for (spelling, op) in relationOperators {
                    let sp = Array(spelling)
                    guard i + sp.count <= chars.count, Array(chars[i..<(i + sp.count)]) == sp else { continue }
                    if sp.first == "\\", i + sp.count < chars.count, chars[i + sp.count].isLetter { continue }
                    sides.append(String(chars[start..<i]).trimmingSpaces)
                    ops.append(op)
                    i += sp.count
                    start = i
                    continue scan
                }
            }
            i += 1
        }
        sides.append(String(chars[start...]).trimmingSpaces)
        return (sides, ops)
    }

    /// `1 \pm \sqrt{2}` → [`1 + \sqrt{2}`, `1 - \sqrt{2}`] (`\mp` the other way round).
    static func expandPlusMinus(_ s: String) -> [String] {
        guard s.contains("\\pm") || s.contains("\\mp") else { return [s] }
        func spell(_ pm: String, _ mp: String) -> String {
            var out = ""
            var rest = Substring(s)
            while let r = rest.range(of: "\\pm") ?? rest.range(of: "\\mp") {
                let isPM = rest[r] == "\\pm"
                if let next = rest[r.upperBound...].first, next.isLetter {
                    out += rest[..<r.upperBound]
                    rest = rest[r.upperBound...]
                    continue
                }
                out += rest[..<r.lowerBound] + (isPM ? pm : mp)
                rest = rest[r.upperBound...]
            }
            return out + rest
        }
        return [spell("+", "-"), spell("-", "+")]
    }

    /// Rows of `\begin{pmatrix}`-style environments (also bmatrix, vmatrix, matrix, array).
    static func matrixRows(_ s: String) -> [[String]]? {
        guard s.hasPrefix("\\begin{"), let nameEnd = s.firstIndex(of: "}") else { return nil }
        let name = s[s.index(s.startIndex, offsetBy: 7)..<nameEnd]
        guard name.hasSuffix("matrix") || name == "array" else { return nil }
        let endTag = "\\end{\(name)}"
        guard s.hasSuffix(endTag) else { return nil }
        var body = String(s[s.index(after: nameEnd)..<s.index(s.endIndex, offsetBy: -endTag.count)])
        if name == "array", body.hasPrefix("{"), let close = body.firstIndex(of: "}") {
            body = String(body[body.index(after: close)...])
        }
        let rows = body.components(separatedBy: "\\\\").map(\.trimmingSpaces).filter { !$0.isEmpty }
        return rows.map { $0.components(separatedBy: "&").map(\.trimmingSpaces) }
    }
}
