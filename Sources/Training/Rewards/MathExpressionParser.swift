// Recursive-descent parser from answer tokens to MathExpr. Grammar, loosest first:
//   expression := term (('+' | '-') term)*
//   term       := signed (('*' | '\cdot' | '\times' | '/' | '\div') signed | implicit-factor)*
//   signed     := ('-' | '+') signed | power
//   power      := postfix ('^' exponent)?
//   postfix    := atom ('!')*
// Implicit multiplication binds like '*' (`2\sqrt{3}`, `3\pi`, `xy`); an integer followed by an
// integer `\frac` is a mixed number (`1\frac{1}{2}` = 3/2), as in MATH's answers.

struct MathExpressionParser {
    private var tokens: [MathToken]
    private var position = 0
    private var depth = 0

    /// Deeper nesting is refused (degenerate outputs such as "((((…" must not exhaust the stack).
    static let maximumDepth = 64

    private struct Failure: Error {}

    /// Commands read as free variables (Greek letters and a few physics symbols).
    static let symbolCommands: Set<String> = [
        "alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta", "vartheta",
        "iota", "kappa", "lambda", "mu", "nu", "xi", "omicron", "rho", "varrho", "sigma", "varsigma",
        "tau", "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta", "Lambda",
        "Xi", "Sigma", "Upsilon", "Phi", "Psi", "Omega", "hbar", "ell", "odot", "aleph", "nabla",
        "partial",
    ]

    /// Parses a whole normalised answer; nil unless every token is consumed.
    static func parse(_ text: String) -> MathExpr? {
        guard let tokens = MathTokenizer.tokenize(text), !tokens.isEmpty else { return nil }
        var parser = MathExpressionParser(tokens: tokens)
        guard let expr = try? parser.parseExpression(), parser.position == parser.tokens.count else { return nil }
        return expr
    }

    private init(tokens: [MathToken]) { self.tokens = tokens }

    // MARK: token access

    private var peek: MathToken? { position < tokens.count ? tokens[position] : nil }

    private mutating func advance() { position += 1 }

    private mutating func accept(_ c: Character) -> Bool {
        if peek == .punct(c) { position += 1; return true }
        return false
    }

    private mutating func expect(_ c: Character) throws(Failure) {
        guard accept(c) else { throw Failure() }
    }

    // MARK: grammar

    private mutating func parseExpression() throws(Failure) -> MathExpr {
        var lhs = try parseTerm()
        while let t = peek {
            if t == .punct("+") {
                advance()
                lhs = .binary(.add, lhs, try parseTerm())
            } else if t == .punct("-") {
                advance()
                lhs = .binary(.subtract, lhs, try parseTerm())
            } else {
                break
            }
        }
        return lhs
    }

    private mutating func parseTerm() throws(Failure) -> MathExpr {
        var lhs = try parseSigned()
        var lastWasNumber = lhs.isBareNumber
        while let t = peek {
            if t == .punct("*") || t == .command("cdot") || t == .command("times") || t == .command("ast") {
                advance()
                let rhs = try parseSigned()
                lhs = .binary(.multiply, lhs, rhs)
                lastWasNumber = false
            } else if t == .punct("/") || t == .command("div") {
                advance()
                lhs = .binary(.divide, lhs, try parseSigned())
                lastWasNumber = false
            } else if startsImplicitFactor(t) {
                // Two numbers side by side ("1 000") are not a product.
                if case .number = t, lastWasNumber { throw Failure() }
                let rhs = try parsePower()
                lastWasNumber = rhs.isBareNumber
                lhs = .binary(.multiply, lhs, rhs)
            } else {
                break
            }
        }
        return lhs
    }

    private mutating func parseSigned() throws(Failure) -> MathExpr {
        if accept("-") { return .negate(try parseSigned()) }
        if accept("+") { return try parseSigned() }
        return try parsePower()
    }

    private mutating func parsePower() throws(Failure) -> MathExpr {
        var base = try parsePostfix()
        if accept("^") {
            let exponent = try parseExponent()
            // `v^2_0`: a subscript written after the exponent still names the variable.
            if case let .symbol(name) = base, peek == .punct("_") {
                advance()
                base = .symbol(name + "_" + (try parseScriptName()))
            }
            base = .binary(.power, base, exponent)
            while accept("!") { base = .factorial(base) }
        }
        return base
    }

    private mutating func parseExponent() throws(Failure) -> MathExpr {
        if accept("-") { return .negate(try parseExponent()) }
        if accept("+") { return try parseExponent() }
        return try parsePower()
    }

    private mutating func parsePostfix() throws(Failure) -> MathExpr {
        var e = try parseAtom()
        while accept("!") { e = .factorial(e) }
        return e
    }

    private func startsImplicitFactor(_ t: MathToken) -> Bool {
        switch t {
        case .number, .letter: return true
        case let .punct(c): return c == "(" || c == "{"
        case let .command(name): return startsAtom(command: name)
        case .word: return false
        }
    }

    private func startsAtom(command name: String) -> Bool {
        ["frac", "cfrac", "sqrt", "binom", "pi", "infty", "ln", "log"].contains(name)
            || Self.symbolCommands.contains(name) || MathFunction(rawValue: name) != nil
            || MathFunction.aliases[name] != nil
    }

    private mutating func parseAtom() throws(Failure) -> MathExpr {
        guard let t = peek, depth < Self.maximumDepth else { throw Failure() }
        depth += 1
        defer { depth -= 1 }
        switch t {
        case let .number(literal):
            advance()
            let value = try Self.number(literal)
            if !literal.contains("."), let fraction = tryMixedFraction() {
                return .binary(.add, value, fraction)
            }
            return value
        case let .letter(name):
            advance()
            if name == "e", peek != .punct("_"), peek != .punct("'") { return .constant(.e) }
            return .symbol(try parseScripts(name))
        case let .command(name):
            advance()
            return try parseCommand(name)
        case .punct("("):
            advance()
            return try parseGroup(closing: ")")
        case .punct("["):
            advance()
            return try parseGroup(closing: "]")
        case .punct("{"):
            advance()
            let inner = try parseExpression()
            try expect("}")
            return inner
        case .punct("|"):
            advance()
            let inner = try parseExpression()
            try expect("|")
            return .absolute(inner)
        default:
            throw Failure()
        }
    }

    private mutating func parseGroup(closing: Character) throws(Failure) -> MathExpr {
        var items = [try parseExpression()]
        while accept(",") { items.append(try parseExpression()) }
        try expect(closing)
        return items.count == 1 ? items[0] : .tuple(items)
    }

    /// `1\frac{1}{2}`: returns the fraction when an integer \frac follows, else leaves the input.
    private mutating func tryMixedFraction() -> MathExpr? {
        guard peek == .command("frac") else { return nil }
        let saved = (position, tokens)
        advance()
        if let num = try? parseArgument(), let den = try? parseArgument(),
           case let .number(_, a) = num, case let .number(_, b) = den, !a.contains("."), !b.contains(".") {
            return .binary(.divide, num, den)
        }
        (position, tokens) = saved
        return nil
    }

    private mutating func parseCommand(_ name: String) throws(Failure) -> MathExpr {
        switch name {
        case "frac", "cfrac":
            let num = try parseArgument()
            let den = try parseArgument()
            return .binary(.divide, num, den)
        case "binom":
            let n = try parseArgument()
            let k = try parseArgument()
            return .binomial(n, k)
        case "sqrt":
            var index = MathExpr.number(2, literal: "2")
            if accept("[") {
                index = try parseExpression()
                try expect("]")
            }
            return .root(index: index, try parseArgument())
        case "pi": return .constant(.pi)
        case "infty": return .constant(.infinity)
        case "ln": return try parseFunctionApplication { .logarithm(base: .constant(.e), $0) }
        case "log":
            var base = MathExpr.number(10, literal: "10")
            if accept("_") { base = try parseArgument() }
            return try parseFunctionApplication { .logarithm(base: base, $0) }
        default:
            if let f = MathFunction(rawValue: name) ?? MathFunction.aliases[name] {
                return try parseFunctionApplication { .function(f, $0) }
            }
            if Self.symbolCommands.contains(name) { return .symbol(try parseScripts(name)) }
            throw Failure()
        }
    }

    /// `\sin x`, `\sin(2x)`, `\sin^2 x`, `\cos^{10}(\frac{\pi}{10})`, `\ln 2`.
    private mutating func parseFunctionApplication(_ make: (MathExpr) -> MathExpr) throws(Failure) -> MathExpr {
        var exponent: MathExpr?
        if accept("^") { exponent = try parseExponent() }
        let argument: MathExpr
        if accept("(") {
            argument = try parseExpression()
            try expect(")")
        } else if accept("{") {
            argument = try parseExpression()
            try expect("}")
        } else {
            // An unbracketed argument runs over a product of simple factors: `\sin 2x`, `\cos \theta_1`.
            var arg = try parsePower()
            while let t = peek, isSimpleFactor(t) { arg = .binary(.multiply, arg, try parsePower()) }
            argument = arg
        }
        let applied = make(argument)
        return exponent.map { .binary(.power, applied, $0) } ?? applied
    }

    private func isSimpleFactor(_ t: MathToken) -> Bool {
        switch t {
        case .letter: return true
        case let .command(name): return name == "pi" || Self.symbolCommands.contains(name)
        default: return false
        }
    }

    /// One argument of `\frac`, `\sqrt`, `\binom`: a braced group or, as in TeX, one token
    /// (`\frac12` = 1/2, `\sqrt2`).
    private mutating func parseArgument() throws(Failure) -> MathExpr {
        guard let t = peek else { throw Failure() }
        switch t {
        case .punct("{"):
            advance()
            let inner = try parseExpression()
            try expect("}")
            return inner
        case let .number(literal):
            let first = String(literal.prefix(1))
            guard first != "." else { throw Failure() }
            let rest = String(literal.dropFirst())
            if rest.isEmpty { advance() } else { tokens[position] = .number(rest) }
            return try Self.number(first)
        case let .letter(name):
            advance()
            return name == "e" ? .constant(.e) : .symbol(name)
        case let .command(name):
            advance()
            return try parseCommand(name)
        default:
            throw Failure()
        }
    }

    /// Subscripts and primes after a variable name: `a_n`, `a_{n+1}`, `k_{B}`, `f'`.
    private mutating func parseScripts(_ base: String) throws(Failure) -> String {
        var name = base
        while true {
            if accept("_") {
                name += "_" + (try parseScriptName())
            } else if accept("'") {
                name += "'"
            } else {
                return name
            }
        }
    }

    /// The text of a subscript, used as part of a variable's name (`{\max }` → `max`).
    private mutating func parseScriptName() throws(Failure) -> String {
        guard let t = peek else { throw Failure() }
        if t == .punct("{") {
            advance()
            var depth = 1
            var text = ""
            while let u = peek {
                advance()
                if u == .punct("{") { depth += 1 }
                if u == .punct("}") {
                    depth -= 1
                    if depth == 0 { return text }
                }
                text += Self.spelling(u)
            }
            throw Failure()
        }
        advance()
        return Self.spelling(t)
    }

    private static func spelling(_ t: MathToken) -> String {
        switch t {
        case let .number(s), let .letter(s), let .command(s), let .word(s): return s
        case let .punct(c): return String(c)
        }
    }

    private static func number(_ literal: String) throws(Failure) -> MathExpr {
        guard let value = Double(literal) else { throw Failure() }
        return .number(value, literal: literal)
    }
}

extension MathExpr {
    fileprivate var isBareNumber: Bool {
        if case .number = self { return true }
        return false
    }
}
