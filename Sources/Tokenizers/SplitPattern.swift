// The pre-tokenizer Split regexes of the supported families, matched by hand on UTF-8 bytes with
// the same leftmost-first alternation and backtracking the regex engine (Oniguruma) applies:
//
//   qwen2  (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
//   llama3 the same with \p{N}{1,3}
//   gpt2   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+   (ByteLevel's use_regex)
//
// Every scalar is covered by some alternative, so the pieces tile the text with no gaps.

enum SplitPattern: Sendable, Equatable {
    case qwen2
    case llama3
    case gpt2

    static let qwen2Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let llama3Regex =
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#
    static let gpt2Regex = #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#

    /// The pattern a Split pre-tokenizer's regex names, or nil when it is none of the supported ones.
    init?(regex: String) {
        switch regex {
        case SplitPattern.qwen2Regex: self = .qwen2
        case SplitPattern.llama3Regex: self = .llama3
        case SplitPattern.gpt2Regex: self = .gpt2
        default: return nil
        }
    }

    /// Calls `body(start, end)` for each consecutive piece of `p[start..<end]` (valid UTF-8).
    func forEachPiece(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ body: (Int, Int) -> Void) {
        CharacterClasses.table.withUnsafeBufferPointer { table in
            let matcher = Matcher(p: p, end: end, table: table)
            var i = start
            while i < end {
                let j: Int
                switch self {
                case .qwen2: j = matcher.matchSplit(at: i, maxDigits: 1)
                case .llama3: j = matcher.matchSplit(at: i, maxDigits: 3)
                case .gpt2: j = matcher.matchGPT2(at: i)
                }
                body(i, j)
                i = j
            }
        }
    }
}

/// One scan over valid UTF-8 bytes with the class table at hand.
private struct Matcher {
    let p: UnsafeBufferPointer<UInt8>
    let end: Int
    let table: UnsafeBufferPointer<UInt8>

    /// Class, scalar value and byte length of the scalar at `i`.
    @inline(__always)
    func at(_ i: Int) -> (cls: CharacterClass, value: UInt32, length: Int) {
        let b = p[i]
        if b < 0x80 { return (CharacterClass(rawValue: table[Int(b)]), UInt32(b), 1) }
        let (v, n) = UTF8Text.scalar(p, i)
        return (v < CharacterClasses.tableBound ? CharacterClass(rawValue: table[Int(v)]) : CharacterClasses.of(v), v, n)
    }

    @inline(__always)
    func isOther(_ c: CharacterClass) -> Bool { c.isDisjoint(with: [.letter, .number, .whitespace]) }

    /// End of the run of scalars of class `want` starting at `i`.
    @inline(__always)
    func scan(from i: Int, while want: CharacterClass) -> Int {
        var j = i
        while j < end {
            let s = at(j)
            if !s.cls.contains(want) { break }
            j += s.length
        }
        return j
    }

    @inline(__always)
    func scanOther(from i: Int) -> Int {
        var j = i
        while j < end {
            let s = at(j)
            if !isOther(s.cls) { break }
            j += s.length
        }
        return j
    }

    /// The contraction after an apostrophe at `i`, if any ('s 't 're 've 'm 'll 'd).
    @inline(__always)
    func contraction(at i: Int, caseInsensitive: Bool) -> Int? {
        guard i + 1 < end else { return nil }
        let s1 = at(i + 1)
        var v = s1.value
        if caseInsensitive {
            if v >= 0x41 && v <= 0x5A { v += 0x20 }
            if v == 0x17F { v = 0x73 }  // LATIN SMALL LETTER LONG S case-folds to s
        }
        switch v {
        case 0x73, 0x74, 0x6D, 0x64: return i + 1 + s1.length  // s t m d
        case 0x72, 0x76, 0x6C:  // r v l need a second letter: re ve ll
            let k = i + 1 + s1.length
            guard k < end else { return nil }
            var w = UInt32(p[k])
            if caseInsensitive && w >= 0x41 && w <= 0x5A { w += 0x20 }
            let second: UInt32 = v == 0x6C ? 0x6C : 0x65
            return w == second ? k + 1 : nil
        default: return nil
        }
    }

    /// Whitespace alternatives `\s*[\r\n]+` (when `newlineRuns`), `\s+(?!\S)` and `\s+` at a whitespace scalar.
    @inline(__always)
    func matchWhitespace(at i: Int, newlineRuns: Bool) -> Int {
        var j = i, lastStart = i, lastNewlineEnd = -1
        while j < end {
            let s = at(j)
            if !s.cls.contains(.whitespace) { break }
            if s.cls.contains(.newline) { lastNewlineEnd = j + s.length }
            lastStart = j
            j += s.length
        }
        if newlineRuns && lastNewlineEnd >= 0 { return lastNewlineEnd }
        if j == end { return j }
        if lastStart > i { return lastStart }  // leave the last space to the next word
        return j
    }

    /// One match of the qwen2 / llama3 pattern starting at `i`.
    func matchSplit(at i: Int, maxDigits: Int) -> Int {
        let s0 = at(i)
        if s0.value == 0x27, let j = contraction(at: i, caseInsensitive: true) { return j }
        // [^\r\n\p{L}\p{N}]?\p{L}+
        if s0.cls.contains(.letter) { return scan(from: i + s0.length, while: .letter) }
        if s0.cls.isDisjoint(with: [.letter, .number, .newline]), i + s0.length < end {
            let s1 = at(i + s0.length)
            if s1.cls.contains(.letter) { return scan(from: i + s0.length + s1.length, while: .letter) }
        }
        // \p{N} or \p{N}{1,3}
        if s0.cls.contains(.number) {
            var j = i + s0.length, count = 1
            while count < maxDigits && j < end {
                let s = at(j)
                if !s.cls.contains(.number) { break }
                j += s.length
                count += 1
            }
            return j
        }
        // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
        let k = s0.value == 0x20 ? i + 1 : i
        if k < end, isOther(k == i ? s0.cls : at(k).cls) {
            var j = scanOther(from: k)
            while j < end && (p[j] == 0x0A || p[j] == 0x0D) { j += 1 }
            return j
        }
        if s0.cls.contains(.whitespace) { return matchWhitespace(at: i, newlineRuns: true) }
        return i + s0.length
    }

    /// One match of GPT-2's pattern starting at `i`.
    func matchGPT2(at i: Int) -> Int {
        let s0 = at(i)
        if s0.value == 0x27, let j = contraction(at: i, caseInsensitive: false) { return j }
        // ' ?\p{L}+', ' ?\p{N}+', ' ?[^\s\p{L}\p{N}]+'
        let k = s0.value == 0x20 ? i + 1 : i
        if k < end {
            let sk = k == i ? s0 : at(k)
            if sk.cls.contains(.letter) { return scan(from: k + sk.length, while: .letter) }
            if sk.cls.contains(.number) { return scan(from: k + sk.length, while: .number) }
            if isOther(sk.cls) { return scanOther(from: k + sk.length) }
        }
        if s0.cls.contains(.whitespace) { return matchWhitespace(at: i, newlineRuns: false) }
        return i + s0.length
    }
}
