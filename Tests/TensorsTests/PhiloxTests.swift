// The counter-based RNG: known-answer vector, determinism, independence of streams, moments.

import Testing
import Tensors

@Suite struct PhiloxTests {
    @Test func knownAnswerOfPhilox4x32_10() {
        // Random123's published test vector: counter 0, key 0.
        let z = Philox.block(seed: 0, stream: 0, counter: 0)
        #expect([z.0, z.1, z.2, z.3] == [0x6627_e8d5, 0xe169_c58d, 0xbc57_ac4c, 0x9b00_dbd8])
        // counter all ones, key all ones
        let o = Philox.block(seed: .max, stream: .max, counter: .max)
        #expect([o.0, o.1, o.2, o.3] == [0x408f_276d, 0x41c8_3b0e, 0xa20b_c7c6, 0x6d54_51fd])
    }

    @Test func sameSeedSameNumbersAndResumableCounter() {
        var a = Philox(seed: 42, stream: 3), b = Philox(seed: 42, stream: 3)
        let xs = (0..<10).map { _ in a.next() }
        #expect(xs == (0..<10).map { _ in b.next() })
        var c = Philox(seed: 42, stream: 3, counter: 2)   // skip two 4-word blocks
        #expect((0..<2).map { _ in c.next() } == Array(xs[8..<10]))
        var d = Philox(seed: 42, stream: 4)
        #expect((0..<10).map { _ in d.next() } != xs)
    }

    @Test func uniformAndNormalMoments() {
        var rng = Philox(seed: 7)
        let n = 20000
        var su = 0.0, sn = 0.0, sn2 = 0.0
        for _ in 0..<n {
            let u = rng.uniform()
            #expect(u >= 0 && u < 1)
            su += Double(u)
            let z = Double(rng.normal())
            sn += z; sn2 += z * z
        }
        #expect(abs(su / Double(n) - 0.5) < 0.01)
        #expect(abs(sn / Double(n)) < 0.03)
        #expect(abs(sn2 / Double(n) - 1) < 0.05)
    }
}
