// String-level clean-up of an answer before it is parsed: math delimiters, `\boxed`, `\left`/
// `\right`, LaTeX spacing, `\dfrac`, degrees, primes, `\text{}` units, dollar signs, thousands
// separators and multiple-choice letters. Percent signs are kept (as `%`) for the comparison.

import Foundation

enum AnswerNormalizer {
    /// Text-like commands whose braced argument is unwrapped or dropped.
    static let textCommands = [
        "text", "textbf", "textit", "textrm", "textnormal", "textsf", "texttt", "mbox", "hbox",
        "mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathbb", "mathcal", "operatorname",
        "boldsymbol", "bm",
    ]

    static func normalize(_ raw: String) -> String {
        var s = raw.trimmingSpaces
        if let boxed = AnswerExtraction.lastBoxed(in: s) { s = boxed }
        // Matrix row breaks `\\` must survive the one-backslash rewrites below.
        s = s.replacingAll("\\\\", with: rowBreak)
        s = applyReplacements(s)
        s = removeSizedDelimiters(s)
        s = rewriteTextCommands(s)
        for (from, to) in lateReplacements { s = s.replacingAll(from, with: to) }
        s = collapseSpaces(s)
        s = dropMembershipPrefix(s)
        s = trimPunctuation(s)
        s = dropTrailingUnitWords(s)
        s = removeThousandsSeparators(s)
        s = choiceLetter(s)
        return s.replacingAll(rowBreak, with: "\\\\")
    }

    private static let rowBreak = "\u{1}"

    /// Ordered literal rewrites, applied in one left-to-right pass: at each position the first
    /// pattern that matches wins (so longer patterns come first where they overlap), and what it
    /// writes is not rescanned.
    static let replacements: [(String, String)] = [
        ("\\$", ""), ("$", ""), ("\\(", ""), ("\\)", ""), ("\\[", ""), ("\\]", ""),
        ("\u{2212}", "-"), ("\u{00D7}", "\\times "), ("\u{00B7}", "\\cdot "), ("\u{22C5}", "\\cdot "),
        ("\u{00F7}", "\\div "), ("\u{03C0}", "\\pi "), ("\u{221A}", "\\sqrt"), ("\u{221E}", "\\infty "),
        ("\u{2264}", "\\le "), ("\u{2265}", "\\ge "), ("\u{2260}", "\\ne "), ("\u{2248}", "\\approx "),
        ("\u{222A}", "\\cup "), ("\u{2208}", "\\in "), ("\u{00B1}", "\\pm "), ("\u{FF0C}", ","),
        ("\\dfrac", "\\frac"), ("\\tfrac", "\\frac"), ("\\dbinom", "\\binom"), ("\\tbinom", "\\binom"),
        ("\\displaystyle", ""), ("\\textstyle", ""),
        ("^{\\circ}\\text{C}", ""), ("^\\circ\\text{C}", ""), ("^{\\circ}\\text{F}", ""), ("^\\circ\\text{F}", ""),
        ("^{\\circ}\\mathrm{C}", ""), ("^\\circ\\mathrm{C}", ""), ("^{\\circ} C", ""), ("^\\circ C", ""),
        ("^{\\circ}C", ""), ("^\\circ F", ""), ("^{\\circ}F", ""), ("\u{00B0}C", ""), ("\u{00B0}F", ""),
        ("^{\\circ}", ""), ("^\\circ", ""), ("\\circ", ""), ("\u{00B0}", ""), ("\\degree", ""),
        ("^{\\prime\\prime}", "''"), ("^{\\prime}", "'"), ("^\\prime", "'"), ("\\prime", "'"),
        ("\\%", "%"), ("{,}", ","), (",\\! ", ","), ("\\!", ""), ("\\,", " "), ("\\;", " "), ("\\:", " "),
        ("\\qquad", " "), ("\\quad", " "), ("\\ ", " "), ("~", " "),
        ("\\varnothing", "\\emptyset"), ("\\leq", "\\le"), ("\\geq", "\\ge"), ("\\neq", "\\ne"),
    ]

    /// `replacements` indexed by first byte, in order.
    private static let replacementTable: [[([UInt8], [UInt8])]] = {
        var table = [[([UInt8], [UInt8])]](repeating: [], count: 256)
        for (from, to) in replacements { table[Int(from.utf8.first!)].append((Array(from.utf8), Array(to.utf8))) }
        return table
    }()

    static func applyReplacements(_ s: String) -> String {
        let bytes = Array(s.utf8)
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count + 8)
        var i = 0
        scan: while i < bytes.count {
            for (pattern, replacement) in replacementTable[Int(bytes[i])]
            where i + pattern.count <= bytes.count && bytes[i..<(i + pattern.count)].elementsEqual(pattern) {
                out.append(contentsOf: replacement)
                i += pattern.count
                continue scan
            }
            out.append(bytes[i])
            i += 1
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Rewrites that must see the result of the `\text{}` pass.
    static let lateReplacements: [(String, String)] = [("\\%", "%"), ("~", " "), (", and ", ", "), (", or ", ", "), (" and ", ", "), (" or ", ", ")]

    /// Removes `\left`, `\right`, `\bigl` and friends (and the null delimiter `\left.`).
    static func removeSizedDelimiters(_ s: String) -> String {
        let sized: Set<String> = [
            "left", "right", "bigl", "bigr", "Bigl", "Bigr", "biggl", "biggr", "Biggl", "Biggr",
            "big", "Big", "bigg", "Bigg",
        ]
        let chars = Array(s)
        var out: [Character] = []
        var i = 0
        while i < chars.count {
            if chars[i] == "\\", let name = commandName(chars, at: i), sized.contains(name) {
                i += 1 + name.count
                if i < chars.count, chars[i] == "." { i += 1 }
                continue
            }
            out.append(chars[i])
            i += 1
        }
        return String(out)
    }

    /// `\text{…}` and its relatives: a one-letter argument is kept (`k_{\mathrm{B}}`), "and"/"or"
    /// become commas, a lone text answer is unwrapped, any other text (units, words) is dropped
    /// together with a following `^2`.
    static func rewriteTextCommands(_ s: String) -> String {
        let chars = Array(s)
        var out: [Character] = []
        var i = 0
        while i < chars.count {
            guard chars[i] == "\\", let name = commandName(chars, at: i), textCommands.contains(name) else {
                out.append(chars[i])
                i += 1
                continue
            }
            var open = i + 1 + name.count
            while open < chars.count, chars[open] == " " { open += 1 }
            guard open < chars.count, chars[open] == "{", let close = AnswerExtraction.matchingBrace(chars, open: open) else {
                out.append(chars[i])
                i += 1
                continue
            }
            let content = rewriteTextCommands(String(chars[(open + 1)..<close])).trimming(" ~")
            // The whole answer (perhaps inside brackets or followed by a full stop) is this text.
            let isWhole = out.allSatisfy { $0.isWhitespace || "([".contains($0) }
                && chars[(close + 1)...].allSatisfy { $0.isWhitespace || ").]".contains($0) }
            var next = close + 1
            if ["and", "or", ","].contains(content.lowercased()) {
                // `7, -2, \text{ and } -5`: the comma is already there.
                out += out.last(where: { !$0.isWhitespace }) == "," ? " " : ", "
            } else if isTimeOfDay(content) {
                out += " " + content
            } else if content.count <= 1 || isWhole || MathTokenizer.plainNames.contains(content)
                        || isChoiceInParentheses(content) {
                out += content
            } else {
                // A unit or a remark: drop it and a power written after it (`\text{cm}^2`).
                var k = next
                while k < chars.count, chars[k] == " " { k += 1 }
                if k < chars.count, chars[k] == "^" {
                    k += 1
                    if k < chars.count, chars[k] == "{", let c = AnswerExtraction.matchingBrace(chars, open: k) {
                        next = c + 1
                    } else if k < chars.count {
                        next = k + 1
                    }
                }
                out.append(" ")
            }
            i = next
        }
        return String(out)
    }

    /// The letters of the command starting with the backslash at `i`.
    static func commandName(_ chars: [Character], at i: Int) -> String? {
        var j = i + 1
        while j < chars.count, chars[j].isASCII, chars[j].isLetter { j += 1 }
        return j > i + 1 ? String(chars[(i + 1)..<j]) : nil
    }

    /// `(E)`: a multiple-choice letter is the answer, not a remark.
    static func isChoiceInParentheses(_ s: String) -> Bool {
        let c = Array(s)
        return c.count == 3 && c[0] == "(" && c[2] == ")" && c[1].isLetter
    }

    /// "a.m." / "p.m." change the meaning of a time and are never dropped as units.
    static func isTimeOfDay(_ word: String) -> Bool {
        let letters = word.lowercased().filter { $0 != "." && $0 != " " }
        return letters == "am" || letters == "pm"
    }

    static func collapseSpaces(_ s: String) -> String {
        var out = ""
        var lastSpace = false
        for c in s {
            if c.isWhitespace {
                if !lastSpace { out.append(" ") }
                lastSpace = true
            } else {
                out.append(c)
                lastSpace = false
            }
        }
        return out.trimmingSpaces
    }

    /// `x \in [1, 2]` → `[1, 2]`.
    static func dropMembershipPrefix(_ s: String) -> String {
        let chars = Array(s)
        var i = chars.count - 1
        while i >= 0 {
            if chars[i] == "\\", commandName(chars, at: i) == "in" {
                return String(chars[(i + 3)...]).trimmingSpaces
            }
            i -= 1
        }
        return s
    }

    static func trimPunctuation(_ s: String) -> String {
        var t = Substring(s)
        while let l = t.last, l == "." || l == "," || l == ";" || l == ":" || l == " " {
            // Keep a trailing `\,`-style command intact and never cut into "\.".
            if l == ".", t.dropLast().last == "\\" { break }
            t = t.dropLast()
        }
        while let f = t.first, f == " " || f == "=" || f == ":" { t = t.dropFirst() }
        return String(t)
    }

    /// `10 cm`, `5 square units`: plain words after a number are units.
    static func dropTrailingUnitWords(_ s: String) -> String {
        let chars = Array(s)
        var k = chars.count
        while k > 0, chars[k - 1].isASCII, chars[k - 1].isLetter || chars[k - 1] == " " || chars[k - 1] == "." {
            k -= 1
        }
        guard k < chars.count, k > 0 else { return s }
        // A space must separate the number from the first word, and a digit must precede it.
        var j = k
        while j < chars.count, chars[j] == " " { j += 1 }
        guard j > k, chars[k - 1].isNumber else { return s }
        let words = String(chars[j...]).split(separator: " ").map { String($0).trimming(".") }
        guard words.allSatisfy({ $0.count >= 2 && !MathTokenizer.plainNames.contains($0) }),
              !isTimeOfDay(words.joined()) else { return s }
        return String(chars[..<k]).trimmingSpaces
    }

    /// `1,080` / `900,000,000` / `1 000` → digits only (only when the whole answer is one number).
    static func removeThousandsSeparators(_ s: String) -> String {
        for sep: Character in [",", " "] {
            let parts = s.split(separator: sep, omittingEmptySubsequences: false)
            guard parts.count >= 2 else { continue }
            var head = Substring(parts[0])
            if head.first == "-" { head = head.dropFirst() }
            guard (1...3).contains(head.count), head.allSatisfy({ $0.isASCII && $0.isNumber }) else { continue }
            let middle = parts.dropFirst().dropLast()
            guard middle.allSatisfy({ $0.count == 3 && $0.allSatisfy { $0.isASCII && $0.isNumber } }) else { continue }
            let last = parts[parts.count - 1]
            let lastDigits = last.split(separator: ".", maxSplits: 1, omittingEmptySubsequences: false)
            guard lastDigits[0].count == 3, last.allSatisfy({ ($0.isASCII && $0.isNumber) || $0 == "." }),
                  lastDigits.count == 1 || !lastDigits[1].isEmpty else { continue }
            return parts.joined()
        }
        return s
    }

    /// `(C)`, `\text{(C)}`, `C)` → `C` for multiple-choice letters A–E.
    static func choiceLetter(_ s: String) -> String {
        var t = Substring(s)
        if t.first == "(" { t = t.dropFirst() }
        if t.last == ")" { t = t.dropLast() }
        if t.count == 1, let c = t.first, "ABCDE".contains(c), s.count > 1 { return String(c) }
        return s
    }
}

extension String {
    /// Replaces every occurrence of `target`, scanning UTF-8 bytes (valid UTF-8 patterns only
    /// ever match on character boundaries).
    func replacingAll(_ target: String, with replacement: String) -> String {
        let t = Array(target.utf8)
        guard let first = t.first else { return self }
        var bytes = Array(utf8)
        guard bytes.count >= t.count, bytes.contains(first) else { return self }
        var out: [UInt8] = []
        out.reserveCapacity(bytes.count)
        var i = 0
        var changed = false
        while i < bytes.count {
            if bytes[i] == first, i + t.count <= bytes.count, bytes[i..<(i + t.count)].elementsEqual(t) {
                out.append(contentsOf: replacement.utf8)
                i += t.count
                changed = true
            } else {
                out.append(bytes[i])
                i += 1
            }
        }
        guard changed else { return self }
        bytes = out
        return String(decoding: bytes, as: UTF8.self)
    }

    func trimming(_ set: String) -> String {
        var s = Substring(self)
        while let f = s.first, set.contains(f) || f.isWhitespace { s = s.dropFirst() }
        while let l = s.last, set.contains(l) || l.isWhitespace { s = s.dropLast() }
        return String(s)
    }
}
