// A small expression tree for answers written in LaTeX or plain infix (`\frac{1}{2}`, `2\sqrt{3}`,
// `x^2+1`, `3.5e-2`), with its tokenizer. Parsing lives in MathExpressionParser.swift and
// evaluation in MathExpressionEvaluation.swift; this is the grader's own small CAS-free core.

/// A parsed mathematical expression.
indirect enum MathExpr: Equatable, Sendable {
    /// A numeric literal; `literal` keeps the written digits (a decimal point makes it approximate).
    case number(Double, literal: String)
    case constant(MathConstant)
    /// A free variable, named with its subscript and primes (`v_0`, `omega_L'`).
    case symbol(String)
    case negate(MathExpr)
    case binary(MathBinaryOperator, MathExpr, MathExpr)
    case function(MathFunction, MathExpr)
    /// `\log_{b} x`; a nil base means the natural logarithm for `\ln`, base 10 is spelled out.
    case logarithm(base: MathExpr, MathExpr)
    /// `\sqrt[n]{x}`; index 2 for a square root.
    case root(index: MathExpr, MathExpr)
    case factorial(MathExpr)
    case binomial(MathExpr, MathExpr)
    case absolute(MathExpr)
    /// A parenthesised list such as the `(x, y)` of `f(x, y)`; not a number.
    case tuple([MathExpr])
}

enum MathConstant: String, Sendable {
    case pi, e, infinity
}

enum MathBinaryOperator: String, Sendable {
    case add = "+", subtract = "-", multiply = "*", divide = "/", power = "^"
}

enum MathFunction: String, Sendable, CaseIterable {
    case sin, cos, tan, cot, sec, csc
    case arcsin, arccos, arctan
    case sinh, cosh, tanh
    case exp

    /// Plain-text spellings accepted besides the LaTeX command of the same name.
    static let aliases: [String: MathFunction] = ["asin": .arcsin, "acos": .arccos, "atan": .arctan]
}

extension MathExpr {
    /// The free variables the expression mentions.
    var symbols: Set<String> {
        var out = Set<String>()
        collectSymbols(into: &out)
        return out
    }

    private func collectSymbols(into out: inout Set<String>) {
        switch self {
        case .number, .constant: break
        case let .symbol(name): out.insert(name)
        case let .negate(a), let .function(_, a), let .factorial(a), let .absolute(a):
            a.collectSymbols(into: &out)
        case let .binary(_, a, b), let .logarithm(a, b), let .root(a, b), let .binomial(a, b):
            a.collectSymbols(into: &out)
            b.collectSymbols(into: &out)
        case let .tuple(items):
            for item in items { item.collectSymbols(into: &out) }
        }
    }

    /// Whether the expression mentions `\infty`.
    var mentionsInfinity: Bool {
        switch self {
        case .constant(.infinity): return true
        case .number, .constant, .symbol: return false
        case let .negate(a), let .function(_, a), let .factorial(a), let .absolute(a):
            return a.mentionsInfinity
        case let .binary(_, a, b), let .logarithm(a, b), let .root(a, b), let .binomial(a, b):
            return a.mentionsInfinity || b.mentionsInfinity
        case let .tuple(items): return items.contains { $0.mentionsInfinity }
        }
    }

    /// True when the value is a rational number computed exactly from integer literals
    /// (no decimals, constants, roots or transcendental functions), so equality must be exact.
    var isExactRational: Bool {
        switch self {
        case let .number(_, literal): return !literal.contains(".") && !literal.lowercased().contains("e")
        case .constant, .symbol, .function, .logarithm, .root, .tuple: return false
        case let .negate(a), let .absolute(a): return a.isExactRational
        case let .factorial(a): return a.isExactRational
        case let .binomial(a, b): return a.isExactRational && b.isExactRational
        case let .binary(op, a, b):
            if op == .power {
                guard a.isExactRational, case let .number(n, literal) = b.strippingSign,
                      !literal.contains("."), abs(n) <= 64 else { return false }
                return true
            }
            return a.isExactRational && b.isExactRational
        }
    }

    private var strippingSign: MathExpr {
        if case let .negate(a) = self { return a }
        return self
    }

    /// A left-hand side that names something rather than computes it: `x`, `a_n`, `f(x)`,
    /// `\Phi(x, y)`, `\Delta p`. Used to read `x = 5` as the answer `5`.
    var isNameLike: Bool {
        switch self {
        case .symbol: return true
        case let .binary(.multiply, a, b): return a.isNameLike && (b.isNameLike || b.isArgumentList)
        default: return false
        }
    }

    private var isArgumentList: Bool {
        switch self {
        case let .tuple(items): return items.allSatisfy { $0.isNameLike || $0.isArgumentList }
        default: return isNameLike
        }
    }
}

// MARK: - Tokens

enum MathToken: Equatable, Sendable {
    case number(String)
    /// One Latin letter (a variable, or `e`).
    case letter(String)
    /// A backslash command without the backslash (`frac`, `pi`, `alpha`, `{` for `\{`).
    case command(String)
    /// Punctuation: + - * / ^ _ ( ) [ ] { } , ! | ' & and so on.
    case punct(Character)
    /// A run of three or more letters that is not a known function: text, not math.
    case word(String)
}

enum MathTokenizer {
    /// Plain-text names read as the command of the same name (`sqrt(2)`, `pi`, `sin x`).
    static let plainNames: Set<String> = [
        "sqrt", "sin", "cos", "tan", "cot", "sec", "csc", "arcsin", "arccos", "arctan", "asin", "acos",
        "atan", "sinh", "cosh", "tanh", "ln", "log", "exp", "pi", "infty", "inf",
    ]

    /// Splits a normalised answer into tokens; nil when it holds characters math does not use.
    static func tokenize(_ text: String) -> [MathToken]? {
        let chars = Array(text)
        var tokens: [MathToken] = []
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c.isWhitespace { i += 1; continue }
            if c.isASCII, c.isNumber || (c == "." && i + 1 < chars.count && chars[i + 1].isASCII && chars[i + 1].isNumber) {
                var j = i
                while j < chars.count, chars[j].isASCII, chars[j].isNumber { j += 1 }
                if j < chars.count, chars[j] == ".", j + 1 < chars.count, chars[j + 1].isASCII, chars[j + 1].isNumber {
                    j += 1
                    while j < chars.count, chars[j].isASCII, chars[j].isNumber { j += 1 }
                }
                // Scientific notation: 1.5e-3, 2E+10 (only with digits after the exponent marker).
                if j < chars.count, chars[j] == "e" || chars[j] == "E" {
                    var k = j + 1
                    if k < chars.count, chars[k] == "+" || chars[k] == "-" { k += 1 }
                    if k < chars.count, chars[k].isASCII, chars[k].isNumber {
                        while k < chars.count, chars[k].isASCII, chars[k].isNumber { k += 1 }
                        j = k
                    }
                }
                tokens.append(.number(String(chars[i..<j])))
                i = j
                continue
            }
            if c.isASCII, c.isLetter {
                var j = i
                while j < chars.count, chars[j].isASCII, chars[j].isLetter { j += 1 }
                let run = String(chars[i..<j])
                if plainNames.contains(run) {
                    tokens.append(.command(run == "inf" ? "infty" : run))
                } else if run.count >= 3 {
                    tokens.append(.word(run))
                } else {
                    for ch in run { tokens.append(.letter(String(ch))) }
                }
                i = j
                continue
            }
            if c == "\\" {
                var j = i + 1
                while j < chars.count, chars[j].isASCII, chars[j].isLetter { j += 1 }
                if j == i + 1 {
                    guard j < chars.count else { return nil }
                    // \{ \} \\ and other one-character commands.
                    tokens.append(.command(String(chars[j])))
                    i = j + 1
                } else {
                    tokens.append(.command(String(chars[(i + 1)..<j])))
                    i = j
                }
                continue
            }
            if "+-*/^_()[]{},!|'&=<>:;".contains(c) {
                tokens.append(.punct(c))
                i += 1
                continue
            }
            return nil
        }
        return tokens
    }
}
