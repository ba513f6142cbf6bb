// Numeric evaluation of MathExpr in Double, with free variables bound by the caller. Symbolic
// equivalence is tested by evaluating both sides at a few fixed pseudo-random points
// (polynomial identity testing), which needs no computer algebra system.

import Foundation

extension MathExpr {
    /// The value with every free variable taken from `bindings`; NaN when undefined or unbound.
    func evaluate(_ bindings: [String: Double] = [:]) -> Double {
        switch self {
        case let .number(v, _): return v
        case let .constant(c):
            switch c {
            case .pi: return Double.pi
            case .e: return M_E
            case .infinity: return Double.infinity
            }
        case let .symbol(name): return bindings[name] ?? .nan
        case let .negate(a): return -a.evaluate(bindings)
        case let .binary(op, a, b):
            let x = a.evaluate(bindings), y = b.evaluate(bindings)
            switch op {
            case .add: return x + y
            case .subtract: return x - y
            case .multiply: return x * y
            case .divide: return y == 0 ? .nan : x / y
            case .power: return Self.power(x, y)
            }
        case let .function(f, a): return Self.apply(f, a.evaluate(bindings))
        case let .logarithm(base, a):
            let b = base.evaluate(bindings), x = a.evaluate(bindings)
            guard x > 0, b > 0, b != 1 else { return .nan }
            return Foundation.log(x) / Foundation.log(b)
        case let .root(index, a):
            let n = index.evaluate(bindings), x = a.evaluate(bindings)
            if n == 2 { return x < 0 ? .nan : x.squareRoot() }
            // Odd integer roots of negative numbers are real.
            if x < 0, n == n.rounded(), Int(n) % 2 != 0 { return -Foundation.pow(-x, 1 / n) }
            return Foundation.pow(x, 1 / n)
        case let .factorial(a): return Self.factorial(a.evaluate(bindings))
        case let .binomial(n, k):
            let nv = n.evaluate(bindings), kv = k.evaluate(bindings)
            return Self.factorial(nv) / (Self.factorial(kv) * Self.factorial(nv - kv))
        case let .absolute(a): return abs(a.evaluate(bindings))
        case .tuple: return .nan
        }
    }

    private static func power(_ x: Double, _ y: Double) -> Double {
        if x < 0, y != y.rounded() {
            // A real odd root of a negative base, e.g. (-8)^(1/3), when 1/y is an odd integer.
            let inv = 1 / y
            if abs(inv - inv.rounded()) < 1e-9, Int(inv.rounded()) % 2 != 0 { return -Foundation.pow(-x, y) }
            return .nan
        }
        return Foundation.pow(x, y)
    }

    private static func factorial(_ x: Double) -> Double {
        if x == x.rounded(), x < 0 { return .nan }
        if x == x.rounded(), x <= 20 {
            var r = 1.0
            var i = 2.0
            while i <= x { r *= i; i += 1 }
            return r
        }
        return tgamma(x + 1)
    }

    private static func apply(_ f: MathFunction, _ x: Double) -> Double {
        switch f {
        case .sin: return Foundation.sin(x)
        case .cos: return Foundation.cos(x)
        case .tan: return Foundation.tan(x)
        case .cot: return 1 / Foundation.tan(x)
        case .sec: return 1 / Foundation.cos(x)
        case .csc: return 1 / Foundation.sin(x)
        case .arcsin: return Foundation.asin(x)
        case .arccos: return Foundation.acos(x)
        case .arctan: return Foundation.atan(x)
        case .sinh: return Foundation.sinh(x)
        case .cosh: return Foundation.cosh(x)
        case .tanh: return Foundation.tanh(x)
        case .exp: return Foundation.exp(x)
        }
    }
}

/// Fixed evaluation points for free variables: the same name gets the same values on every
/// machine (a SplitMix64 hash of the name and the point index, no Hasher).
enum SymbolicProbe {
    static let pointCount = 6

    /// Values in [0.35, 1.85): positive (roots and logs stay real) and away from 0 and 1.
    static func bindings(for symbols: Set<String>, point: Int) -> [String: Double] {
        var out: [String: Double] = [:]
        for name in symbols {
            var h: UInt64 = 0xcbf2_9ce4_8422_2325
            for byte in name.utf8 { h = (h ^ UInt64(byte)) &* 0x0000_0100_0000_01b3 }
            let bits = splitMix64(h &+ UInt64(point) &* 0x9e37_79b9_7f4a_7c15)
            out[name] = 0.35 + 1.5 * Double(bits >> 11) / Double(1 << 53)
        }
        return out
    }

    static func splitMix64(_ seed: UInt64) -> UInt64 {
        var z = seed &+ 0x9e37_79b9_7f4a_7c15
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        return z ^ (z >> 31)
    }
}
