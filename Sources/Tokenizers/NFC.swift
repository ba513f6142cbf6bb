// Unicode Normalization Form C on UTF-8 (the normalizer of Qwen's tokenizer.json): full canonical
// decomposition (Hangul by arithmetic), canonical ordering of combining marks, then canonical
// composition (UAX #15). Text whose scalars are all NFC-stable is returned untouched without work.
// Data from UnicodeTables, so the result does not depend on the toolchain's Unicode version.

enum NFC {
    static let combiningClass: [UInt32: UInt8] = {
        var d: [UInt32: UInt8] = [:]
        let t = UnicodeTables.combiningClasses
        for k in stride(from: 0, to: t.count, by: 3) {
            for v in t[k]...t[k + 1] { d[v] = UInt8(t[k + 2]) }
        }
        return d
    }()

    static let decomposition: [UInt32: [UInt32]] = {
        var d: [UInt32: [UInt32]] = [:]
        let t = UnicodeTables.decompositions
        var k = 0
        while k < t.count {
            let n = Int(t[k + 1])
            d[t[k]] = Array(t[(k + 2)..<(k + 2 + n)])
            k += 2 + n
        }
        return d
    }()

    static let composition: [UInt64: UInt32] = {
        var d: [UInt64: UInt32] = [:]
        let t = UnicodeTables.compositions
        for k in stride(from: 0, to: t.count, by: 3) { d[UInt64(t[k]) << 32 | UInt64(t[k + 1])] = t[k + 2] }
        return d
    }()

    // Hangul syllable arithmetic (Unicode §3.12).
    static let sBase: UInt32 = 0xAC00, lBase: UInt32 = 0x1100, vBase: UInt32 = 0x1161, tBase: UInt32 = 0x11A7
    static let lCount: UInt32 = 19, vCount: UInt32 = 21, tCount: UInt32 = 28
    static let nCount = vCount * tCount, sCount = lCount * vCount * tCount

    /// Whether NFC may change `p[a..<b]` (valid UTF-8): some scalar is not NFC-stable.
    static func mayChange(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> Bool {
        var i = a
        while i < b {
            if p[i] < 0xCC { i += 1; continue }  // below U+0300 every scalar is stable
            let (v, n) = UTF8Text.scalar(p, i)
            if CharacterClasses.of(v).contains(.nfcUnstable) { return true }
            i += n
        }
        return false
    }

    /// The NFC form of `p[a..<b]` as UTF-8.
    static func normalize(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int) -> [UInt8] {
        var scalars: [UInt32] = []
        scalars.reserveCapacity(b - a)
        var i = a
        while i < b {
            let (v, n) = UTF8Text.scalar(p, i)
            decompose(v, into: &scalars)
            i += n
        }
        reorder(&scalars)
        compose(&scalars)
        var out: [UInt8] = []
        out.reserveCapacity(b - a)
        for v in scalars { UTF8Text.append(v, to: &out) }
        return out
    }

    static func decompose(_ v: UInt32, into out: inout [UInt32]) {
        if v >= sBase && v < sBase + sCount {
            let s = v - sBase
            out.append(lBase + s / nCount)
            out.append(vBase + (s % nCount) / tCount)
            if s % tCount != 0 { out.append(tBase + s % tCount) }
        } else if let d = decomposition[v] {
            out += d
        } else {
            out.append(v)
        }
    }

    /// Canonical ordering: a stable sort of each run of non-starters by combining class.
    static func reorder(_ s: inout [UInt32]) {
        var i = 0
        while i < s.count {
            guard (combiningClass[s[i]] ?? 0) != 0 else { i += 1; continue }
            var j = i
            while j < s.count && (combiningClass[s[j]] ?? 0) != 0 { j += 1 }
            if j - i > 1 {
                let run = s[i..<j].enumerated().sorted {
                    let (ca, cb) = (combiningClass[$0.element]!, combiningClass[$1.element]!)
                    return ca != cb ? ca < cb : $0.offset < $1.offset
                }
                for (k, e) in run.enumerated() { s[i + k] = e.element }
            }
            i = j
        }
    }

    static func composePair(_ a: UInt32, _ b: UInt32) -> UInt32? {
        if a >= lBase && a < lBase + lCount && b >= vBase && b < vBase + vCount {
            return sBase + ((a - lBase) * vCount + (b - vBase)) * tCount
        }
        if a >= sBase && a < sBase + sCount && (a - sBase) % tCount == 0 && b > tBase && b < tBase + tCount {
            return a + (b - tBase)
        }
        return composition[UInt64(a) << 32 | UInt64(b)]
    }

    /// Canonical composition: each mark combines with the last starter unless a mark of the same
    /// or higher class (or a starter) stands between them.
    static func compose(_ s: inout [UInt32]) {
        guard !s.isEmpty else { return }
        var starter = 0
        var lastClass: Int = (combiningClass[s[0]] ?? 0) == 0 ? 0 : 256
        var out = 1
        for i in 1..<s.count {
            let c = s[i]
            let cls = Int(combiningClass[c] ?? 0)
            if (lastClass < cls || lastClass == 0), let composite = composePair(s[starter], c) {
                s[starter] = composite
                continue
            }
            if cls == 0 { starter = out }
            lastClass = cls
            s[out] = c
            out += 1
        }
        s.removeLast(s.count - out)
    }
}

extension NFC {
    /// The NFC form of a String.
    static func string(_ s: String) -> String {
        var s = s
        return s.withUTF8 { p in
            mayChange(p, 0, p.count) ? String(decoding: normalize(p, 0, p.count), as: UTF8.self) : String(decoding: p, as: UTF8.self)
        }
    }
}
