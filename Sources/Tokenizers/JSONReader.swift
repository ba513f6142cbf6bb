// A small strict JSON reader for tokenizer.json (RFC 8259; objects keep their key order). It reads
// a 7 MB Qwen tokenizer.json several times faster than JSONSerialization plus the casts its
// untyped result needs, which is most of what loading a tokenizer costs.

enum JSON: Sendable {
    case null
    case bool(Bool)
    case number(Double)
    case string(String)
    case array([JSON])
    case object([(key: String, value: JSON)])

    struct ParseError: Error, CustomStringConvertible {
        let message: String
        let line: Int
        let column: Int
        var description: String { "line \(line), column \(column): \(message)" }
    }

    static func parse(_ bytes: [UInt8]) throws(ParseError) -> JSON {
        try bytes.withUnsafeBufferPointer { (p) throws(ParseError) -> JSON in
            var reader = JSONReader(p: p)
            reader.skipSpace()
            let value = try reader.value(depth: 0)
            reader.skipSpace()
            guard reader.i == p.count else { throw reader.error("unexpected data after the top-level value") }
            return value
        }
    }

    /// The value of `key` in an object (nil for other values and missing keys; JSON null is `.null`).
    subscript(key: String) -> JSON? {
        guard case let .object(pairs) = self else { return nil }
        return pairs.last(where: { $0.key == key })?.value
    }
}

private struct JSONReader {
    let p: UnsafeBufferPointer<UInt8>
    var i = 0

    func error(_ message: String) -> JSON.ParseError {
        var line = 1, column = 1
        for b in p[0..<min(i, p.count)] {
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return JSON.ParseError(message: message, line: line, column: column)
    }

    mutating func skipSpace() {
        while i < p.count, p[i] == 0x20 || p[i] == 0x0A || p[i] == 0x0D || p[i] == 0x09 { i += 1 }
    }

    mutating func expect(_ literal: StaticString, _ value: JSON) throws(JSON.ParseError) -> JSON {
        let n = literal.utf8CodeUnitCount
        guard i + n <= p.count else { throw error("unexpected end of input") }
        for k in 0..<n where p[i + k] != literal.utf8Start[k] { throw error("invalid literal") }
        i += n
        return value
    }

    mutating func value(depth: Int) throws(JSON.ParseError) -> JSON {
        guard depth < 512 else { throw error("nested too deeply") }
        guard i < p.count else { throw error("unexpected end of input") }
        switch p[i] {
        case UInt8(ascii: "{"):
            i += 1
            var pairs: [(key: String, value: JSON)] = []
            skipSpace()
            if i < p.count && p[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
            while true {
                skipSpace()
                guard i < p.count, p[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
                let key = try string()
                skipSpace()
                guard i < p.count, p[i] == UInt8(ascii: ":") else { throw error("expected ':'") }
                i += 1
                skipSpace()
                pairs.append((key, try value(depth: depth + 1)))
                skipSpace()
                guard i < p.count else { throw error("unexpected end of input") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "}") { i += 1; return .object(pairs) }
                throw error("expected ',' or '}'")
            }
        case UInt8(ascii: "["):
            i += 1
            var items: [JSON] = []
            skipSpace()
            if i < p.count && p[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
            while true {
                skipSpace()
                items.append(try value(depth: depth + 1))
                skipSpace()
                guard i < p.count else { throw error("unexpected end of input") }
                if p[i] == UInt8(ascii: ",") { i += 1; continue }
                if p[i] == UInt8(ascii: "]") { i += 1; return .array(items) }
                throw error("expected ',' or ']'")
            }
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try expect("true", .bool(true))
        case UInt8(ascii: "f"): return try expect("false", .bool(false))
        case UInt8(ascii: "n"): return try expect("null", .null)
        default: return .number(try number())
        }
    }

    mutating func number() throws(JSON.ParseError) -> Double {
        let start = i
        if i < p.count && p[i] == UInt8(ascii: "-") { i += 1 }
        let digits = i
        while i < p.count, p[i] >= 0x30 && p[i] <= 0x39 { i += 1 }
        guard i > digits, !(p[digits] == 0x30 && i - digits > 1) else { throw error("invalid number") }
        var integral = true
        if i < p.count && p[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            let f = i
            while i < p.count, p[i] >= 0x30 && p[i] <= 0x39 { i += 1 }
            guard i > f else { throw error("invalid number") }
        }
        if i < p.count && (p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E")) {
            integral = false
            i += 1
            if i < p.count && (p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-")) { i += 1 }
            let e = i
            while i < p.count, p[i] >= 0x30 && p[i] <= 0x39 { i += 1 }
            guard i > e else { throw error("invalid number") }
        }
        if integral && i - digits <= 15 {
            var v = 0.0
            for k in digits..<i { v = v * 10 + Double(p[k] - 0x30) }
            return p[start] == UInt8(ascii: "-") ? -v : v
        }
        guard let v = Double(String(decoding: UnsafeBufferPointer(rebasing: p[start..<i]), as: UTF8.self)) else {
            throw error("invalid number")
        }
        return v
    }

    mutating func string() throws(JSON.ParseError) -> String {
        i += 1  // opening quote
        let start = i
        while i < p.count {
            let b = p[i]
            if b == UInt8(ascii: "\"") {
                let s = try validated(start, i)
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in a string") }
            i += 1
        }
        // Slow path: escapes.
        var out = Array(p[start..<i])
        while i < p.count {
            let b = p[i]
            if b == UInt8(ascii: "\"") {
                i += 1
                guard let s = String(validating: out, as: UTF8.self) else { throw error("invalid UTF-8 in a string") }
                return s
            }
            if b < 0x20 { throw error("control character in a string") }
            if b != UInt8(ascii: "\\") {
                out.append(b)
                i += 1
                continue
            }
            guard i + 1 < p.count else { throw error("unexpected end of input") }
            let e = p[i + 1]
            i += 2
            switch e {
            case UInt8(ascii: "\""): out.append(0x22)
            case UInt8(ascii: "\\"): out.append(0x5C)
            case UInt8(ascii: "/"): out.append(0x2F)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "u"):
                var v = try hex4()
                if v >= 0xD800 && v < 0xDC00 {
                    guard i + 1 < p.count, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw error("unpaired surrogate escape") }
                    v = 0x10000 + ((v - 0xD800) << 10) + (low - 0xDC00)
                } else if v >= 0xDC00 && v < 0xE000 {
                    throw error("unpaired surrogate escape")
                }
                UTF8Text.append(v, to: &out)
            default:
                throw error("invalid escape")
            }
        }
        throw error("unterminated string")
    }

    mutating func hex4() throws(JSON.ParseError) -> UInt32 {
        guard i + 4 <= p.count else { throw error("unexpected end of input") }
        var v: UInt32 = 0
        for k in 0..<4 {
            let c = p[i + k]
            let d: UInt32
            switch c {
            case 0x30...0x39: d = UInt32(c - 0x30)
            case 0x41...0x46: d = UInt32(c - 0x41 + 10)
            case 0x61...0x66: d = UInt32(c - 0x61 + 10)
            default: throw error("invalid \\u escape")
            }
            v = v << 4 | d
        }
        i += 4
        return v
    }

    func validated(_ a: Int, _ b: Int) throws(JSON.ParseError) -> String {
        guard let s = String(validating: UnsafeBufferPointer(rebasing: p[a..<b]), as: UTF8.self) else {
            throw error("invalid UTF-8 in a string")
        }
        return s
    }
}
