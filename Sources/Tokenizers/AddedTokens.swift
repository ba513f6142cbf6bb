// Added (special and non-special) tokens, matched in the text before normalization and BPE the way
// `tokenizers`' AddedVocabulary does: leftmost-longest matches over the bytes, then the
// single_word / lstrip / rstrip rules; tokens with `normalized: true` are matched a second time
// on the normalized pieces.

/// One entry of tokenizer.json's `added_tokens`.
public struct AddedToken: Sendable, Equatable {
    public var id: Int32
    public var content: String
    public var singleWord: Bool
    public var lstrip: Bool
    public var rstrip: Bool
    public var normalized: Bool
    public var special: Bool

    public init(id: Int32, content: String, singleWord: Bool = false, lstrip: Bool = false, rstrip: Bool = false,
                normalized: Bool = false, special: Bool = true) {
        self.id = id
        self.content = content
        self.singleWord = singleWord
        self.lstrip = lstrip
        self.rstrip = rstrip
        self.normalized = normalized
        self.special = special
    }
}

/// Finds added tokens in text: a byte trie walked only from bytes that start some token.
struct AddedTokenMatcher: Sendable {
    private(set) var tokens: [AddedToken] = []
    private var firstBytes = [Bool](repeating: false, count: 256)
    /// Trie nodes: children by byte, and the token (index into `tokens`) ending at the node.
    private var children: [[UInt8: Int32]] = [[:]]
    private var terminal: [Int32] = [-1]

    init(_ entries: [(AddedToken, [UInt8])]) {
        for (token, pattern) in entries where !pattern.isEmpty {
            tokens.append(token)
            var node = 0
            for b in pattern {
                if let c = children[node][b] {
                    node = Int(c)
                } else {
                    children.append([:])
                    terminal.append(-1)
                    children[node][b] = Int32(children.count - 1)
                    node = children.count - 1
                }
            }
            terminal[node] = Int32(tokens.count - 1)  // a later duplicate wins
            firstBytes[Int(pattern[0])] = true
        }
    }

    /// Longest token starting at `i`: (token index, end) or nil.
    @inline(__always)
    private func longest(_ p: UnsafeBufferPointer<UInt8>, _ i: Int, _ end: Int) -> (Int, Int)? {
        var node = 0, j = i
        var found: (Int, Int)?
        while j < end, let c = children[node][p[j]] {
            node = Int(c)
            j += 1
            if terminal[node] >= 0 { found = (Int(terminal[node]), j) }
        }
        return found
    }

    /// Splits `p[start..<end]` into text pieces and added tokens, in order:
    /// `body(nil, a, b)` for text, `body(id, a, b)` for a token covering a..<b (stripped spaces included).
    func split(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int, _ body: (Int32?, Int, Int) -> Void) {
        if tokens.isEmpty {
            if start < end { body(nil, start, end) }
            return
        }
        var offset = start  // end of what has been emitted
        var i = start
        while i < end {
            guard firstBytes[Int(p[i])], let (index, matchEnd) = longest(p, i, end) else {
                i += 1
                continue
            }
            let token = tokens[index]
            var s = i, e = matchEnd
            i = matchEnd
            if token.singleWord {
                let before = s == start || !AddedTokenMatcher.isWordScalar(lastScalar(p, start, s))
                let after = e == end || !AddedTokenMatcher.isWordScalar(UTF8Text.scalar(p, e).value)
                if !(before && after) { continue }
            }
            if token.lstrip {
                var k = s
                while k > offset {
                    var b = k - 1
                    while b > start && p[b] & 0xC0 == 0x80 { b -= 1 }
                    guard CharacterClasses.of(UTF8Text.scalar(p, b).value).contains(.whitespace) else { break }
                    k = b
                }
                s = max(k, offset)
            }
            if token.rstrip {
                while e < end {
                    let sc = UTF8Text.scalar(p, e)
                    guard CharacterClasses.of(sc.value).contains(.whitespace) else { break }
                    e += sc.length
                }
            }
            if offset < s { body(nil, offset, s) }
            body(token.id, s, e)
            offset = e
        }
        if offset < end { body(nil, offset, end) }
    }

    private func lastScalar(_ p: UnsafeBufferPointer<UInt8>, _ start: Int, _ i: Int) -> UInt32 {
        var b = i - 1
        while b > start && p[b] & 0xC0 == 0x80 { b -= 1 }
        return UTF8Text.scalar(p, b).value
    }

    /// Rust regex's Unicode \w: Alphabetic, marks, decimal digits, connector punctuation, join controls.
    static func isWordScalar(_ v: UInt32) -> Bool {
        guard let s = Unicode.Scalar(v) else { return false }
        let props = s.properties
        if props.isAlphabetic || props.isJoinControl { return true }
        switch props.generalCategory {
        case .nonspacingMark, .spacingMark, .enclosingMark, .decimalNumber, .connectorPunctuation: return true
        default: return false
        }
    }
}
