// The built-in synthetic task: multi-step integer arithmetic ("Compute (23 + 14) * 3 - 7.") and
// short word problems, each with a worked solution (one line per operation) ending in
// `\boxed{answer}`; and a second family, linear equations ("Find x if x * 3 + 7 = 25."), solved
// by undoing the operations one line at a time (the out-of-distribution family: the same
// arithmetic facts in another kind of problem). Problem i of a seed is a pure function of (seed, i, difficulty): a
// counter-based generator, the same on every machine. The train/validation/test split is decided
// by a hash of the problem text alone, so the splits never share a problem, whatever the seeds.

public struct SyntheticArithmetic: Sendable {
    /// How hard the problems are.
    public struct Difficulty: Sendable, Equatable, Codable {
        /// Operations per problem (≥ 1).
        public var operations: Int
        /// Digits of the numbers added or subtracted (1–6); factors and divisors are 2–9.
        public var digits: Int
        /// Whether a third of the problems are phrased as word problems.
        public var wordProblems: Bool

        public init(operations: Int, digits: Int, wordProblems: Bool) {
            self.operations = operations
            self.digits = digits
            self.wordProblems = wordProblems
        }

        /// Presets 1 (one operation on digits) to 5 (four operations on 3-digit numbers).
        public static func level(_ n: Int) -> Difficulty? {
            switch n {
            case 1: return Difficulty(operations: 1, digits: 1, wordProblems: false)
            case 2: return Difficulty(operations: 2, digits: 1, wordProblems: true)
            case 3: return Difficulty(operations: 2, digits: 2, wordProblems: true)
            case 4: return Difficulty(operations: 3, digits: 2, wordProblems: true)
            case 5: return Difficulty(operations: 4, digits: 3, wordProblems: true)
            default: return nil
            }
        }

        public static let levels = 1...5

        /// Separates the random streams of different difficulties under one seed.
        var stream: UInt64 {
            UInt64(operations) << 16 | UInt64(digits) << 8 | (wordProblems ? 1 : 0)
        }

        /// Intermediate results stay below this bound.
        var resultLimit: Int {
            var p = 1
            for _ in 0..<(digits + 2) { p *= 10 }
            return p - 1
        }
    }

    /// About one problem in ten is test, one in ten validation (for choosing hyper-parameters
    /// without looking at the test split), the rest train.
    public enum Split: String, Sendable, CaseIterable {
        case train, validation, test
    }

    /// The kind of problem.
    public enum Family: String, Sendable, CaseIterable {
        /// "Compute (23 + 14) * 3 - 7." and word problems: apply the operations.
        case arithmetic
        /// "Find x if (x + 14) * 3 - 7 = 104.": undo the operations, last first.
        case equations
    }

    /// One generated problem.
    public struct Problem: Sendable, Equatable {
        public var index: UInt64
        public var text: String
        public var solution: String
        public var answer: Int
        public var split: Split
        /// The arithmetic behind the problem as one expression ("33 / 3 + 28"; for a word problem,
        /// the story's operations; for an equation, its left side).
        public var expression: String
    }

    public let seed: UInt64
    public let difficulty: Difficulty
    /// The preset number, when made from one (recorded in MathRecord.level).
    public let level: Int?
    public let family: Family

    /// The default embedded dataset: level 2, seed 0, 4096 train and 256 test problems.
    public static let defaultSeed: UInt64 = 0
    public static let defaultLevel = 2
    public static let defaultTrainCount = 4096
    public static let defaultTestCount = 256

    /// The line every worked solution ends with (what the grader reads; the arithmetic corpus can
    /// end its problems with it too).
    public static func answerLine(_ answer: Int) -> String { "The answer is \\boxed{\(answer)}." }

    public init(seed: UInt64, level: Int, family: Family = .arithmetic) throws(DatasetError) {
        guard let d = Difficulty.level(level) else {
            throw .invalidArgument("synthetic level \(level) does not exist\nhint: levels are \(Difficulty.levels.lowerBound)...\(Difficulty.levels.upperBound)")
        }
        self.seed = seed
        self.difficulty = d
        self.level = level
        self.family = family
    }

    public init(seed: UInt64, difficulty: Difficulty, family: Family = .arithmetic) throws(DatasetError) {
        guard difficulty.operations >= 1, difficulty.operations <= 16, (1...6).contains(difficulty.digits) else {
            throw .invalidArgument("synthetic difficulty needs 1...16 operations and 1...6 digits (got \(difficulty.operations), \(difficulty.digits))")
        }
        self.seed = seed
        self.difficulty = difficulty
        self.level = nil
        self.family = family
    }

    /// The split a problem text belongs to: about one in ten goes to test, one in ten to
    /// validation.
    public static func split(of text: String) -> Split {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in text.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
        switch SymbolicProbe.splitMix64(h) % 10 {
        case 0: return .test
        case 1: return .validation
        default: return .train
        }
    }

    /// Problem number `index` of this seed, difficulty and family.
    public func problem(at index: UInt64) -> Problem {
        // The equation family draws from a stream of its own (the arithmetic family's streams
        // are unchanged, so its problems are the same as before the family existed).
        var rng = CounterRandom(seed: seed, stream: difficulty.stream | (family == .equations ? 1 << 40 : 0), counter: index)
        let built = family == .equations ? Self.buildEquation(difficulty, &rng) : Self.build(difficulty, &rng)
        return Problem(index: index, text: built.text, solution: built.solution, answer: built.answer,
                       split: Self.split(of: built.text), expression: built.expression)
    }

    /// The first `count` problems of `split`, scanning indices from 0. Test and validation problems
    /// are distinct; train problems may repeat at low levels, where there are only a few hundred. The scan stops
    /// after 100·count + 10,000 indices, so a split that runs out of new problems (level 1 has about
    /// 40 distinct test problems) returns fewer than `count`.
    public func problems(count: Int, split: Split) -> [Problem] {
        var out: [Problem] = []
        var seen = Set<String>()
        let budget = UInt64(count) * 100 + 10_000
        var index: UInt64 = 0
        while out.count < count, index < budget {
            let p = problem(at: index)
            index += 1
            guard p.split == split else { continue }
            if split != .train {
                guard seen.insert(p.text).inserted else { continue }
            }
            out.append(p)
        }
        return out
    }

    /// The problems as dataset records (id `synthetic/<level or custom>/<seed>/<index>`, with an
    /// `eq-` before the level for the equation family).
    public func records(count: Int, split: Split) -> [MathRecord] {
        let tag = (family == .equations ? "eq-" : "") + (level.map { "L\($0)" } ?? "ops\(difficulty.operations)d\(difficulty.digits)")
        return problems(count: count, split: split).map { p in
            MathRecord(id: "synthetic/\(tag)/\(seed)/\(p.index)", source: "synthetic", prompt: p.text,
                       answer: String(p.answer), target: p.solution, level: level)
        }
    }

    // MARK: generation

    private enum Op: CaseIterable {
        case add, subtract, multiply, divide

        var symbol: String {
            switch self {
            case .add: return "+"
            case .subtract: return "-"
            case .multiply: return "*"
            case .divide: return "/"
            }
        }

        var isAdditive: Bool { self == .add || self == .subtract }
    }

    private static let names = ["Tom", "Ann", "Sam", "Mia", "Ben", "Lily"]
    private static let items = ["apples", "coins", "books", "pens", "cards", "stamps"]

    private static func build(_ d: Difficulty, _ rng: inout CounterRandom) -> (text: String, solution: String, answer: Int, expression: String) {
        let maxOperand = d.resultLimit / 100
        var value = rng.int(in: 1...maxOperand)
        var expression = String(value)
        var topIsAdditive = false
        var compound = false
        var steps: [String] = []
        var sentences: [String] = []
        let word = d.wordProblems && rng.int(in: 0...2) == 0
        let name = names[rng.int(in: 0...(names.count - 1))]
        let thing = items[rng.int(in: 0...(items.count - 1))]
        sentences.append("\(name) has \(value) \(thing).")

        for _ in 0..<d.operations {
            let (op, operand) = chooseOperation(value: value, d: d, rng: &rng)
            let result: Int
            switch op {
            case .add: result = value + operand
            case .subtract: result = value - operand
            case .multiply: result = value * operand
            case .divide: result = value / operand
            }
            // Commutative operations sometimes put the running expression on the right.
            let onRight = !word && (op == .add || op == .multiply) && rng.int(in: 0...3) == 0
            if onRight {
                let inner = compound ? "(\(expression))" : expression
                expression = "\(operand) \(op.symbol) \(inner)"
                steps.append("\(operand) \(op.symbol) \(value) = \(result).")
            } else {
                let needsParens = compound && topIsAdditive && !op.isAdditive
                expression = (needsParens ? "(\(expression))" : expression) + " \(op.symbol) \(operand)"
                steps.append("\(value) \(op.symbol) \(operand) = \(result).")
            }
            switch op {
            case .add: sentences.append("\(name) gets \(operand) more.")
            case .subtract: sentences.append("\(name) gives away \(operand).")
            case .multiply: sentences.append("Then \(name) has \(operand) times as many \(thing).")
            case .divide: sentences.append("\(name) splits them into \(operand) equal piles and keeps one pile.")
            }
            topIsAdditive = op.isAdditive
            compound = true
            value = result
        }
        let text: String
        if word {
            text = sentences.joined(separator: " ") + " How many \(thing) does \(name) have now?"
        } else {
            text = rng.int(in: 0...1) == 0 ? "Compute \(expression)." : "What is \(expression)?"
        }
        let solution = steps.joined(separator: "\n") + "\n" + answerLine(value)
        return (text, solution, value, expression)
    }

    /// A linear equation in x: x goes through the difficulty's operations (as `build` applies them,
    /// never as a word problem) and the result is given; the solution undoes them, last first.
    private static func buildEquation(_ d: Difficulty, _ rng: inout CounterRandom) -> (text: String, solution: String, answer: Int, expression: String) {
        let x = rng.int(in: 1...(d.resultLimit / 100))
        var value = x
        var expression = "x"
        var topIsAdditive = false
        var compound = false
        var undo: [(Op, Int)] = []
        for _ in 0..<d.operations {
            let (op, operand) = chooseOperation(value: value, d: d, rng: &rng)
            switch op {
            case .add: value += operand
            case .subtract: value -= operand
            case .multiply: value *= operand
            case .divide: value /= operand
            }
            if (op == .add || op == .multiply) && rng.int(in: 0...3) == 0 {
                expression = "\(operand) \(op.symbol) " + (compound ? "(\(expression))" : expression)
            } else {
                let needsParens = compound && topIsAdditive && !op.isAdditive
                expression = (needsParens ? "(\(expression))" : expression) + " \(op.symbol) \(operand)"
            }
            undo.append((op, operand))
            topIsAdditive = op.isAdditive
            compound = true
        }
        var steps: [String] = []
        var current = value
        for (op, operand) in undo.reversed() {
            let previous: Int
            let inverse: Op
            switch op {
            case .add: previous = current - operand; inverse = .subtract
            case .subtract: previous = current + operand; inverse = .add
            case .multiply: previous = current / operand; inverse = .divide
            case .divide: previous = current * operand; inverse = .multiply
            }
            steps.append("\(current) \(inverse.symbol) \(operand) = \(previous).")
            current = previous
        }
        let text = rng.int(in: 0...1) == 0 ? "Find x if \(expression) = \(value)." : "Solve for x: \(expression) = \(value)."
        return (text, steps.joined(separator: "\n") + "\n" + answerLine(x), x, expression)
    }

    /// An operation that keeps the result a non-negative integer below the difficulty's limit.
    private static func chooseOperation(value: Int, d: Difficulty, rng: inout CounterRandom) -> (Op, Int) {
        let maxOperand = d.resultLimit / 100
        for _ in 0..<8 {
            switch rng.int(in: 0...3) {
            case 0:
                let b = rng.int(in: 1...maxOperand)
                if value + b <= d.resultLimit { return (.add, b) }
            case 1:
                if value >= 1 { return (.subtract, rng.int(in: 1...min(value, maxOperand))) }
            case 2:
                let m = rng.int(in: 2...9)
                if value * m <= d.resultLimit { return (.multiply, m) }
            default:
                let divisors = (2...9).filter { value > 0 && value % $0 == 0 }
                if !divisors.isEmpty { return (.divide, divisors[rng.int(in: 0...(divisors.count - 1))]) }
            }
        }
        // Subtracting keeps every bound (value ≥ 1 here unless it is 0, then add).
        return value >= 1 ? (.subtract, rng.int(in: 1...min(value, maxOperand))) : (.add, rng.int(in: 1...maxOperand))
    }
}

/// A counter-based random stream: draw k of (seed, stream, counter) is a fixed function of the
/// four integers (SplitMix64 finaliser), so problem i never depends on the problems before it.
struct CounterRandom {
    private let key: UInt64
    private var draw: UInt64 = 0

    init(seed: UInt64, stream: UInt64, counter: UInt64) {
        let s = SymbolicProbe.splitMix64(seed ^ SymbolicProbe.splitMix64(stream &+ 0x632b_e59b_d9b4_e019))
        key = SymbolicProbe.splitMix64(s ^ SymbolicProbe.splitMix64(counter))
    }

    mutating func next() -> UInt64 {
        draw &+= 1
        return SymbolicProbe.splitMix64(key &+ draw &* 0x9e37_79b9_7f4a_7c15)
    }

    /// Uniform in the range (modulo bias below 2^-50 for the small ranges used here).
    mutating func int(in range: ClosedRange<Int>) -> Int {
        let span = UInt64(range.upperBound - range.lowerBound) + 1
        return range.lowerBound + Int(next() % span)
    }
}
