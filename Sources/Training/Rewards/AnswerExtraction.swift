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
    /// The final answer of a response, or nil when it states none.
    public static func extract(from response: String) -> ExtractedAnswer? {
        let chars = Array(response)
        if let boxed = lastBoxed(chars) {
            return boxed.map { ExtractedAnswer(text: $0, source: .boxed) }
        }
        if let hashes = afterLastMarker(chars, marker: "####") {
            return ExtractedAnswer(text: hashes, source: .gsm8k)
        }
        if let phrase = answerPhrase(chars) {
            return ExtractedAnswer(text: phrase, source: .answerPhrase)
        }
        if let number = lastNumber(chars) {
            return ExtractedAnswer(text: number, source: .lastNumber)
        }
        return nil
    }

    /// The content of the last `\boxed{…}` / `\fbox{…}` / `\boxed x`; nil if there is none.
    public static func lastBoxed(in text: String) -> String? {
        lastBoxed(Array(text)) ?? nil
    }

    /// nil: no box at all; .some(nil): the last box is unterminated (a cut-off response).
    static func lastBoxed(_ chars: [Character]) -> String?? {
        var start: Int?
        var commandEnd = 0
        var i = 0
        while i < chars.count {
            if chars[i] == "\\" {
                for name in ["boxed", "fbox"] where matches(chars, at: i + 1, name) {
                    let end = i + 1 + name.count
                    if end >= chars.count || !chars[end].isLetter {
                        start = i
                        commandEnd = end
                    }
                }
            }
            i += 1
        }
        guard start != nil else { return nil }
        var j = commandEnd
        while j < chars.count, chars[j] == " " { j += 1 }
        if j < chars.count, chars[j] == "{" {
            guard let close = matchingBrace(chars, open: j) else { return .some(nil) }
            return .some(String(chars[(j + 1)..<close]))
        }
        // `\boxed 5`: one space-delimited token (stops at `$` or whitespace).
        guard j > commandEnd else { return .some(nil) }
        var k = j
        while k < chars.count, !chars[k].isWhitespace, chars[k] != "$" { k += 1 }
        return k > j ? .some(String(chars[j..<k])) : .some(nil)
    }

    /// The index of the `}` closing the `{` at `open`; escaped braces (`\{`, `\}`) do not count.
    static func matchingBrace(_ chars: [Character], open: Int) -> Int? {
        var depth = 0
        var i = open
        while i < chars.count {
            let c = chars[i]
            if c == "\\" { i += 2; continue }
            if c == "{" { depth += 1 }
            if c == "}" {
                depth -= 1
                if depth == 0 { return i }
            }
            i += 1
        }
        return nil
    }

    static func matches(_ chars: [Character], at i: Int, _ word: String) -> Bool {
        var k = i
        for w in word {
            guard k < chars.count, chars[k] == w else { return false }
            k += 1
        }
        return true
    }

    /// Text after the last `####` up to the end of its line.
    static func afterLastMarker(_ chars: [Character], marker: String) -> String? {
        var found: Int?
        var i = 0
        while i + marker.count <= chars.count {
            if matches(chars, at: i, marker) { found = i + marker.count }
            i += 1
        }
        guard let from = found else { return nil }
        var end = from
        while end < chars.count, !chars[end].isNewline { end += 1 }
        let text = String(chars[from..<end]).trimmingSpaces
        return text.isEmpty ? nil : text
    }

    /// "The answer is 12." / "Final answer: $\frac{1}{2}$" (the last such phrase, its sentence).
    static func answerPhrase(_ chars: [Character]) -> String? {
        let lower = chars.map { Character($0.lowercased()) }
        var found: Int?
        var i = 0
        for phrase in ["answer is", "answer:"] {
            i = 0
            while i + phrase.count <= lower.count {
                if matches(lower, at: i, phrase) { found = max(found ?? 0, i + phrase.count) }
                i += 1
            }
        }
        guard let from = found else { return nil }
        var end = from
        while end < chars.count, !chars[end].isNewline {
            // A sentence ends at ". " or a final "."; decimal points are followed by digits.
            if chars[end] == ".", end + 1 >= chars.count || chars[end + 1].isWhitespace { break }
            end += 1
        }
        var text = String(chars[from..<end]).trimmingSpaces
        for wrapper in [("$", "$"), ("\\(", "\\)"), ("\\[", "\\]"), ("**", "**")] {
            if text.hasPrefix(wrapper.0), text.hasSuffix(wrapper.1), text.count >= wrapper.0.count + wrapper.1.count {
                text = String(text.dropFirst(wrapper.0.count).dropLast(wrapper.1.count)).trimmingSpaces
            }
        }
        return text.isEmpty ? nil : text
    }

    /// The last number: optional sign, digits with optional thousands commas, decimals, or a/b.
    static func lastNumber(_ chars: [Character]) -> String? {
        var last: String?
        var i = 0
        while i < chars.count {
            guard chars[i].isASCII, chars[i].isNumber else { i += 1; continue }
            var start = i
            if start > 0, chars[start - 1] == "-" { start -= 1 }
            var j = i
            while j < chars.count {
                if chars[j].isASCII, chars[j].isNumber { j += 1; continue }
                // A comma or point inside a number must be followed by a digit (1,080 / 3.5).
                if chars[j] == "," || chars[j] == "." || chars[j] == "/",
                   j + 1 < chars.count, chars[j + 1].isASCII, chars[j + 1].isNumber {
                    j += 1
                    continue
                }
                break
            }
            last = String(chars[start..<j])
            i = j
        }
        return last
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
