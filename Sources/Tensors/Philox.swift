// A counter-based RNG: Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3").
// Keyed by (seed, stream); the n-th draw is a pure function of (seed, stream, n), so the same seed
// gives the same numbers on any run, any thread count, and after a restart from a saved counter.

import Foundation

public struct Philox: Sendable, Equatable {
    public let seed: UInt64
    public let stream: UInt64
    /// Index of the next 128-bit block.
    public private(set) var counter: UInt64
    private var block: (UInt32, UInt32, UInt32, UInt32) = (0, 0, 0, 0)
    private var used = 4

    public init(seed: UInt64, stream: UInt64 = 0, counter: UInt64 = 0) {
        self.seed = seed
        self.stream = stream
        self.counter = counter
    }

    public static func == (a: Philox, b: Philox) -> Bool {
        a.seed == b.seed && a.stream == b.stream && a.counter == b.counter && a.used == b.used
    }

    /// The 4 words of block `counter` for (seed, stream).
    public static func block(seed: UInt64, stream: UInt64, counter: UInt64) -> (UInt32, UInt32, UInt32, UInt32) {
        var c0 = UInt32(truncatingIfNeeded: counter), c1 = UInt32(truncatingIfNeeded: counter >> 32)
        var c2 = UInt32(truncatingIfNeeded: stream), c3 = UInt32(truncatingIfNeeded: stream >> 32)
        var k0 = UInt32(truncatingIfNeeded: seed), k1 = UInt32(truncatingIfNeeded: seed >> 32)
        for _ in 0..<10 {
            let p0 = UInt64(0xD251_1F53) &* UInt64(c0)
            let p1 = UInt64(0xCD9E_8D57) &* UInt64(c2)
            let hi0 = UInt32(truncatingIfNeeded: p0 >> 32), lo0 = UInt32(truncatingIfNeeded: p0)
            let hi1 = UInt32(truncatingIfNeeded: p1 >> 32), lo1 = UInt32(truncatingIfNeeded: p1)
            (c0, c1, c2, c3) = (hi1 ^ c1 ^ k0, lo1, hi0 ^ c3 ^ k1, lo0)
            k0 &+= 0x9E37_79B9
            k1 &+= 0xBB67_AE85
        }
        return (c0, c1, c2, c3)
    }

    public mutating func next() -> UInt32 {
        if used == 4 {
            block = Philox.block(seed: seed, stream: stream, counter: counter)
            counter &+= 1
            used = 0
        }
        defer { used += 1 }
        switch used {
        case 0: return block.0
        case 1: return block.1
        case 2: return block.2
        default: return block.3
        }
    }

    public mutating func next64() -> UInt64 {
        UInt64(next()) << 32 | UInt64(next())
    }

    /// Uniform in [0, 1) with 24 random bits.
    public mutating func uniform() -> Float {
        Float(next() >> 8) * (1.0 / 16_777_216.0)
    }

    /// Uniform in [0, 1) with 53 random bits.
    public mutating func uniformDouble() -> Double {
        Double(next64() >> 11) * (1.0 / 9_007_199_254_740_992.0)
    }

    /// Standard normal (Box–Muller on two uniforms in (0, 1]).
    public mutating func normal() -> Float {
        let u1 = 1 - uniformDouble()
        let u2 = uniformDouble()
        return Float((-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2))
    }

    /// Uniform integer in 0..<n.
    public mutating func below(_ n: Int) -> Int {
        precondition(n > 0)
        return Int(next64() % UInt64(n))
    }

    public mutating func fillNormal(_ out: UnsafeMutablePointer<Float>, count: Int, std: Float) {
        for i in 0..<count { out[i] = normal() * std }
    }

    public mutating func fillUniform(_ out: UnsafeMutablePointer<Float>, count: Int, low: Float, high: Float) {
        for i in 0..<count { out[i] = low + (high - low) * uniform() }
    }
}

extension Philox {
    /// A seed for one purpose and step of a run: Philox(run seed, stream = FNV-1a of the purpose
    /// name) at counter `step`. Purposes (`rollout`, `shadow-rollout`, `rl-order`, `sft-order`,
    /// `eval-sample`, `lora-init`, …) are distinct streams, so two stages never draw the same
    /// numbers by accident, and step k's numbers are a function of (seed, purpose, k).
    public static func derive(seed: UInt64, purpose: String, step: UInt64 = 0) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in purpose.utf8 { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        let (a, b, _, _) = block(seed: seed, stream: h, counter: step)
        return UInt64(a) << 32 | UInt64(b)
    }

    /// Shuffles `items` in place (Fisher–Yates, from the last element down).
    public mutating func shuffle<T>(_ items: inout [T]) {
        for i in stride(from: items.count - 1, to: 0, by: -1) { items.swapAt(i, below(i + 1)) }
    }

    /// A uniform permutation of 0..<n drawn from Philox(seed).
    public static func permutation(_ n: Int, seed: UInt64) -> [Int] {
        var order = Array(0..<n)
        var rng = Philox(seed: seed)
        rng.shuffle(&order)
        return order
    }
}

/// Positions in an endless sequence of epochs over n items, each epoch a fresh permutation keyed
/// by (seed, purpose, epoch): position p is item order(p / n)[p % n]. A data cursor is just a
/// position, so step k's batch (positions k·B ..< (k+1)·B) is a function of (seed, k).
public struct EpochOrder: Sendable {
    public let count: Int
    public let seed: UInt64
    public let purpose: String
    public let shuffle: Bool

    public init(count: Int, seed: UInt64, purpose: String, shuffle: Bool = true) {
        precondition(count > 0, "an epoch needs items")
        self.count = count
        self.seed = seed
        self.purpose = purpose
        self.shuffle = shuffle
    }

    /// Items at positions `range`.
    public func items(_ range: Range<Int>) -> [Int] {
        var cached: (epoch: Int, order: [Int])? = nil
        return range.map { p in
            let epoch = p / count, i = p % count
            guard shuffle else { return i }
            if cached?.epoch != epoch {
                cached = (epoch, Philox.permutation(count, seed: Philox.derive(seed: seed, purpose: purpose, step: UInt64(epoch))))
            }
            return cached!.order[i]
        }
    }
}
