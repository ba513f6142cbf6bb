// Final-answer extraction from a model response, in order of trust: the last `\boxed{…}` (nested
// braces; also `\boxed 5` and `\fbox{…}`), GSM8K's `#### x`, a closing "the answer is x", and
// as a last resort the last number in the text.

/// Where an extracted answer came from.
public enum AnswerSource: String, Sendable, Equatable {
    case boxed
    case gsm8k
    case answerPhrase = "answer_phrase"
    case lastNumber = "last_number"
}

/// A final answer found in a response.
public struct ExtractedAnswer: Sendable, Equatable {
    public var text: String
    public var source: AnswerSource

    public init(text: String, source: AnswerSource) {
        self.text = text
        self.source = source
    }
}

public enum AnswerExtraction {
    // Extraction works on UTF-8 bytes: every marker is ASCII, so each cut falls on a character
    // boundary and the pieces stay valid UTF-8 (and scanning long responses stays cheap).

    /// The final answer of a response, or nil when it states none.
    public static func extract(from response: String) -> ExtractedAnswer? {
        let bytes = Array(response.utf8)
        if let boxed = lastBoxed(bytes) {
            return boxed.map { ExtractedAnswer(text: $0, source: .boxed) }
        }
        if let hashes = afterLastMarker(bytes, marker: "####") {
            return ExtractedAnswer(text: hashes, source: .gsm8k)
        }
        if let phrase = answerPhrase(bytes) {
            return ExtractedAnswer(text: phrase, source: .answerPhrase)
        }
        if let number = lastNumber(bytes) {
            return ExtractedAnswer(text: number, source: .lastNumber)
        }
        return nil
    }

    /// The content of the last `\boxed{…}` / `\fbox{…}` / `\boxed x`; nil if there is none.
    public static func lastBoxed(in text: String) -> String? {
        lastBoxed(Array(text.utf8)) ?? nil
    }

    /// The text after the last `marker` up to the end of its line (GSM8K's `####`).
    public static func afterLastMarker(in text: String, marker: String) -> String? {
        afterLastMarker(Array(text.utf8), marker: marker)
    }

    private static let backslash = UInt8(ascii: "\\"), openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")

    /// nil: no box at all; .some(nil): the last box is unterminated (a cut-off response).
    static func lastBoxed(_ bytes: [UInt8]) -> String?? {
        var commandEnd: Int?
        var i = bytes.count - 1
        search: while i >= 0 {
            if bytes[i] == backslash {
                for name in ["boxed", "fbox"] where matches(bytes, at: i + 1, name) {
                    let end = i + 1 + name.utf8.count
                    if end >= bytes.count || !isLetter(bytes[end]) {
                        commandEnd = end
                        break search
                    }
                }
            }
            i -= 1
        }
        guard let commandEnd else { return nil }
        var j = commandEnd
        while j < bytes.count, bytes[j] == UInt8(ascii: " ") { j += 1 }
        if j < bytes.count, bytes[j] == openBrace {
            guard let close = matchingBrace(bytes, open: j) else { return .some(nil) }
            return .some(text(bytes[(j + 1)..<close]))
        }
        // `\boxed 5`: one space-delimited token (stops at `$` or whitespace).
        guard j > commandEnd else { return .some(nil) }
        var k = j
        while k < bytes.count, !isSpace(bytes[k]), bytes[k] != UInt8(ascii: "$") { k += 1 }
        return k > j ? .some(text(bytes[j..<k])) : .some(nil)
    }

    /// The index of the `}` closing the `{` at `open`; escaped braces (`\{`, `\}`) do not count.
    static func matchingBrace<T: Equatable>(_ items: [T], open: Int, openBrace: T, closeBrace: T, escape: T) -> Int? {
        var depth = 0
        var i = open
        while i < items.count {
            let c = items[i]
            if c == escape { i += 2; continue }
            if c == openBrace { depth += 1 }
            if c == closeBrace {
                depth -= 1
                if depth == 0 { return i }
            }
            i += 1
        }
        return nil
    }

    static func matchingBrace(_ bytes: [UInt8], open: Int) -> Int? {
        matchingBrace(bytes, open: open, openBrace: openBrace, closeBrace: closeBrace, escape: backslash)
    }

    static func matchingBrace(_ chars: [Character], open: Int) -> Int? {
        matchingBrace(chars, open: open, openBrace: "{", closeBrace: "}", escape: "\\")
    }

    static func matches(_ bytes: [UInt8], at i: Int, _ word: String) -> Bool {
        var k = i
        for w in word.utf8 {
            guard k < bytes.count, bytes[k] == w else { return false }
            k += 1
        }
        return true
    }

    static func afterLastMarker(_ bytes: [UInt8], marker: String) -> String? {
        let m = Array(marker.utf8)
        var from: Int?
        var i = bytes.count - m.count
        while i >= 0 {
            if bytes[i] == m[0], matches(bytes, at: i, marker) { from = i + m.count; break }
            i -= 1
        }
        guard let from else { return nil }
        var end = from
        while end < bytes.count, !isNewline(bytes[end]) { end += 1 }
        let found = text(bytes[from..<end]).trimmingSpaces
        return found.isEmpty ? nil : found
    }

    /// "The answer is 12." / "Final answer: $\frac{1}{2}$" (the last such phrase, its sentence).
    static func answerPhrase(_ bytes: [UInt8]) -> String? {
        var from: Int?
        var i = bytes.count - 1
        while i >= 0, from == nil {
            if lower(bytes[i]) == UInt8(ascii: "a") {
                for phrase in ["answer is", "answer:"] where matchesLowercased(bytes, at: i, phrase) {
                    from = i + phrase.utf8.count
                    break
                }
            }
            i -= 1
        }
        guard let from else { return nil }
        var end = from
        while end < bytes.count, !isNewline(bytes[end]) {
            // A sentence ends at ". " or a final "."; decimal points are followed by digits.
            if bytes[end] == UInt8(ascii: "."), end + 1 >= bytes.count || isSpace(bytes[end + 1]) { break }
            end += 1
        }
        var found = text(bytes[from..<end]).trimmingSpaces
        for wrapper in [("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")] {
            if found.hasPrefix(wrapper.0), found.hasSuffix(wrapper.1), found.count >= wrapper.0.count + wrapper.1.count {
                found = String(found.dropFirst(wrapper.0.count).dropLast(wrapper.1.count)).trimmingSpaces
            }
        }
        return found.isEmpty ? nil : found
    }

    /// The last number: optional sign, digits with optional thousands commas, decimals, or a/b.
    static func lastNumber(_ bytes: [UInt8]) -> String? {
        var end = bytes.count
        while end > 0, !isDigit(bytes[end - 1]) { end -= 1 }
        guard end > 0 else { return nil }
        var start = end - 1
        while start > 0 {
            let c = bytes[start - 1]
            if isDigit(c) { start -= 1; continue }
            // A comma, point or slash inside a number sits between digits (1,080 / 3.5 / 3/4).
            if c == UInt8(ascii: ",") || c == UInt8(ascii: ".") || c == UInt8(ascii: "/"), start >= 2, isDigit(bytes[start - 2]) {
                start -= 1
                continue
            }
            break
        }
        if start > 0, bytes[start - 1] == UInt8(ascii: "-") { start -= 1 }
        return text(bytes[start..<end])
    }

    // MARK: bytes

    private static func text(_ bytes: ArraySlice<UInt8>) -> String { String(decoding: bytes, as: UTF8.self) }
    private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
    private static func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
    private static func isNewline(_ b: UInt8) -> Bool { b == 0x0A || b == 0x0D }
    private static func isSpace(_ b: UInt8) -> Bool { b == 0x20 || b == 0x09 || isNewline(b) }
    private static func lower(_ b: UInt8) -> UInt8 { b >= 0x41 && b <= 0x5A ? b | 0x20 : b }

    private static func matchesLowercased(_ bytes: [UInt8], at i: Int, _ word: String) -> Bool {
        var k = i
        for w in word.utf8 {
            guard k < bytes.count, lower(bytes[k]) == w else { return false }
            k += 1
        }
        return true
    }
}

extension String {
    var trimmingSpaces: String {
        var s = Substring(self)
        while let f = s.first, f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
