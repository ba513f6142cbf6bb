// Character classes the pre-tokenizer patterns test (\p{L}, \p{N}, \s, and \r\n) and NFC's quick check, looked up per
// Unicode scalar: a flat table below U+40000 (every assigned letter and number lives there) and a
// binary search over UnicodeTables' ranges above it.

struct CharacterClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = CharacterClass(rawValue: 1)      // \p{L}
    static let number = CharacterClass(rawValue: 2)      // \p{N}
    static let whitespace = CharacterClass(rawValue: 4)  // \s
    static let newline = CharacterClass(rawValue: 8)     // [\r\n]
    static let nfcUnstable = CharacterClass(rawValue: 16)  // NFC may change or combine it
}

enum CharacterClasses {
    /// Scalars below this bound are looked up in `table`.
    static let tableBound: UInt32 = 0x40000

    /// One byte of CharacterClass bits per scalar below `tableBound` (256 KiB, built once).
    static let table: [UInt8] = {
        var t = [UInt8](repeating: 0, count: Int(tableBound))
        func mark(_ ranges: [UInt32], _ bit: CharacterClass) {
            var k = 0
            while k < ranges.count {
                let first = ranges[k], last = min(ranges[k + 1], tableBound - 1)
                if first < tableBound {
                    for v in first...last { t[Int(v)] |= bit.rawValue }
                }
                k += 2
            }
        }
        mark(UnicodeTables.letters, .letter)
        mark(UnicodeTables.numbers, .number)
        mark(UnicodeTables.whitespace, .whitespace)
        mark(UnicodeTables.nfcUnstable, .nfcUnstable)
        t[0x0A] |= CharacterClass.newline.rawValue
        t[0x0D] |= CharacterClass.newline.rawValue
        return t
    }()

    @inline(__always)
    static func of(_ v: UInt32) -> CharacterClass {
        if v < tableBound {
            return table.withUnsafeBufferPointer { CharacterClass(rawValue: $0[Int(v)]) }
        }
        var c: CharacterClass = []
        if contains(UnicodeTables.letters, v) { c.insert(.letter) }
        if contains(UnicodeTables.numbers, v) { c.insert(.number) }
        if contains(UnicodeTables.whitespace, v) { c.insert(.whitespace) }
        if contains(UnicodeTables.nfcUnstable, v) { c.insert(.nfcUnstable) }
        return c
    }

    /// Binary search in sorted inclusive (first, last) pairs.
    static func contains(_ ranges: [UInt32], _ v: UInt32) -> Bool {
        var lo = 0, hi = ranges.count / 2
        while lo < hi {
            let mid = (lo + hi) / 2
            if ranges[2 * mid + 1] < v { lo = mid + 1 } else { hi = mid }
        }
        return lo < ranges.count / 2 && ranges[2 * lo] <= v
    }
}
