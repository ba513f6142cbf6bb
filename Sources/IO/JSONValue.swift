// A JSON value with a strict parser (errors give line and column) and a canonical encoder:
// sorted keys, no insignificant whitespace, integers kept exact. The same value always encodes
// to the same bytes, which is what content addressing of manifests needs.

import Tensors

public enum JSONValue: Equatable, Sendable, CustomStringConvertible {
    case null
    case bool(Bool)
    case int(Int)
    case double(Double)
    case string(String)
    case array([JSONValue])
    case object([String: JSONValue])

    // MARK: access

    public subscript(key: String) -> JSONValue? {
        if case let .object(o) = self { return o[key] }
        return nil
    }

    public var stringValue: String? { if case let .string(s) = self { return s }; return nil }
    public var intValue: Int? {
        switch self {
        case let .int(i): return i
        case let .double(d) where d == d.rounded() && abs(d) < 9.0e15: return Int(d)
        default: return nil
        }
    }
    public var doubleValue: Double? {
        switch self {
        case let .int(i): return Double(i)
        case let .double(d): return d
        default: return nil
        }
    }
    public var boolValue: Bool? { if case let .bool(b) = self { return b }; return nil }
    public var arrayValue: [JSONValue]? { if case let .array(a) = self { return a }; return nil }
    public var objectValue: [String: JSONValue]? { if case let .object(o) = self { return o }; return nil }
    public var isNull: Bool { self == .null }

    // MARK: encoding

    /// Canonical compact encoding (sorted keys).
    public var canonical: String {
        var out = ""
        encode(into: &out, indent: nil, level: 0)
        return out
    }

    public var canonicalBytes: [UInt8] { Array(canonical.utf8) }

    /// Sorted keys, two-space indentation, for people.
    public var pretty: String {
        var out = ""
        encode(into: &out, indent: "  ", level: 0)
        return out
    }

    public var description: String { canonical }

    private func encode(into out: inout String, indent: String?, level: Int) {
        switch self {
        case .null: out += "null"
        case let .bool(b): out += b ? "true" : "false"
        case let .int(i): out += String(i)
        case let .double(d):
            if !d.isFinite { out += "null" }
            else if d == d.rounded(), abs(d) < 1e15 { out += String(Int(d)) + ".0" }
            else { out += "\(d)" }
        case let .string(s): JSONValue.encodeString(s, into: &out)
        case let .array(a):
            if a.isEmpty { out += "[]"; return }
            out += "["
            for (i, v) in a.enumerated() {
                if i > 0 { out += "," }
                if let indent { out += "\n" + String(repeating: indent, count: level + 1) }
                v.encode(into: &out, indent: indent, level: level + 1)
            }
            if let indent { out += "\n" + String(repeating: indent, count: level) }
            out += "]"
        case let .object(o):
            if o.isEmpty { out += "{}"; return }
            out += "{"
            for (i, key) in o.keys.sorted().enumerated() {
                if i > 0 { out += "," }
                if let indent { out += "\n" + String(repeating: indent, count: level + 1) }
                JSONValue.encodeString(key, into: &out)
                out += indent == nil ? ":" : ": "
                o[key]!.encode(into: &out, indent: indent, level: level + 1)
            }
            if let indent { out += "\n" + String(repeating: indent, count: level) }
            out += "}"
        }
    }

    static func encodeString(_ s: String, into out: inout String) {
        out += "\""
        for scalar in s.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if scalar.value < 0x20 {
                    let hex = String(scalar.value, radix: 16)
                    out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        out += "\""
    }

    // MARK: parsing

    public struct ParseError: Error, CustomStringConvertible {
        public let message: String
        public let line: Int
        public let column: Int
        public var description: String { "line \(line), column \(column): \(message)" }
    }

    public init(parsing text: String) throws(ParseError) {
        var text = text
        self = try text.withUTF8 { JSONParser.parse($0) }.get()
    }

    public init(parsing bytes: [UInt8]) throws(ParseError) {
        self = try bytes.withUnsafeBufferPointer { JSONParser.parse($0) }.get()
    }

    public init(parsing bytes: UnsafeRawBufferPointer) throws(ParseError) {
        self = try bytes.withMemoryRebound(to: UInt8.self) { JSONParser.parse($0) }.get()
    }
}

/// The project's one JSON reader (RFC 8259, strict): no duplicate keys, trailing commas, leading
/// zeros, lone surrogates, unknown escapes, control characters or invalid UTF-8 in strings, nor
/// anything after the value; containers nest at most `maxDepth` deep, so hostile input gets an
/// error, not a stack overflow. It walks the bytes in place (a 7 MB tokenizer.json is its
/// largest customer); errors give the line and column (in Unicode scalars) where it stopped.
struct JSONParser {
    static let maxDepth = 512

    let p: UnsafeBufferPointer<UInt8>
    var i = 0
    /// Members of the objects being read, innermost last: an object becomes a dictionary of
    /// exactly its size when it closes, with no rehashing as it grows.
    var members: [(key: String, value: JSONValue, at: Int)] = []

    static func parse(_ p: UnsafeBufferPointer<UInt8>) -> Result<JSONValue, JSONValue.ParseError> {
        var reader = JSONParser(p: p)
        return Result { () throws(JSONValue.ParseError) -> JSONValue in
            reader.skipSpace()
            let value = try reader.value(depth: 0)
            reader.skipSpace()
            guard reader.i == p.count else { throw reader.error("unexpected text after the JSON value") }
            return value
        }
    }

    func error(_ message: String, at position: Int? = nil) -> JSONValue.ParseError {
        var line = 1, column = 1
        for b in p[0..<min(position ?? i, p.count)] {
            if b == 0x0A { line += 1; column = 1 } else if b & 0xC0 != 0x80 { column += 1 }
        }
        return JSONValue.ParseError(message: message, line: line, column: column)
    }

    /// The byte at `k` for a message: the character when it is printable ASCII, else its hex value.
    func describe(_ k: Int) -> String {
        let b = p[k]
        return b >= 0x20 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x" + String(b, radix: 16, uppercase: true)
    }

    mutating func skipSpace() {
        while i < p.count, p[i] == 0x20 || p[i] == 0x0A || p[i] == 0x0D || p[i] == 0x09 { i += 1 }
    }

    mutating func literal(_ word: StaticString, _ value: JSONValue) throws(JSONValue.ParseError) -> JSONValue {
        let n = word.utf8CodeUnitCount
        guard i + n <= p.count else { throw error("invalid literal") }
        for k in 0..<n where p[i + k] != word.utf8Start[k] { throw error("invalid literal") }
        i += n
        return value
    }

    /// The value at `i`, inside `depth` enclosing arrays and objects.
    mutating func value(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        guard i < p.count else { throw error("unexpected end of input") }
        switch p[i] {
        case UInt8(ascii: "{"): return try object(depth: depth)
        case UInt8(ascii: "["): return try array(depth: depth)
        case UInt8(ascii: "\""): return .string(try string())
        case UInt8(ascii: "t"): return try literal("true", .bool(true))
        case UInt8(ascii: "f"): return try literal("false", .bool(false))
        case UInt8(ascii: "n"): return try literal("null", .null)
        default: return try number()
        }
    }

    mutating func object(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        i += 1
        skipSpace()
        if i < p.count, p[i] == UInt8(ascii: "}") { i += 1; return .object([:]) }
        let first = members.count
        while true {
            skipSpace()
            guard i < p.count, p[i] == UInt8(ascii: "\"") else { throw error("expected a string key") }
            let keyStart = i
            let key = try string()
            skipSpace()
            guard i < p.count, p[i] == UInt8(ascii: ":") else { throw error("expected ':' after key") }
            i += 1
            skipSpace()
            members.append((key, try value(depth: depth + 1), keyStart))
            skipSpace()
            guard i < p.count else { throw error("unterminated object") }
            if p[i] == UInt8(ascii: ",") { i += 1; continue }
            if p[i] == UInt8(ascii: "}") { i += 1; break }
            throw error("expected ',' or '}' in object")
        }
        var o = [String: JSONValue](minimumCapacity: members.count - first)
        for m in members[first...] where o.updateValue(m.value, forKey: m.key) != nil {
            throw error("duplicate key '\(m.key)'", at: m.at)
        }
        members.removeSubrange(first...)
        return .object(o)
    }

    mutating func array(depth: Int) throws(JSONValue.ParseError) -> JSONValue {
        guard depth < Self.maxDepth else { throw error("nesting deeper than \(Self.maxDepth)") }
        i += 1
        var a: [JSONValue] = []
        skipSpace()
        if i < p.count, p[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
        while true {
            skipSpace()
            a.append(try value(depth: depth + 1))
            skipSpace()
            guard i < p.count else { throw error("unterminated array") }
            if p[i] == UInt8(ascii: ",") { i += 1; continue }
            if p[i] == UInt8(ascii: "]") { i += 1; return .array(a) }
            throw error("expected ',' or ']' in array")
        }
    }

    /// An integer that fits Int is `.int` (exact); any other number is `.double`.
    mutating func number() throws(JSONValue.ParseError) -> JSONValue {
        let start = i
        if i < p.count, p[i] == UInt8(ascii: "-") { i += 1 }
        let digits = i
        while i < p.count, p[i] >= 0x30 && p[i] <= 0x39 { i += 1 }
        guard i > digits else {
            throw error(i < p.count ? "unexpected character \(describe(i))" : "unexpected end of input")
        }
        if i - digits > 1, p[digits] == 0x30 { throw error("leading zero in number", at: start) }
        var integral = true
        if i < p.count, p[i] == UInt8(ascii: ".") {
            integral = false
            i += 1
            let f = i
            while i < p.count, p[i] >= 0x30 && p[i] <= 0x39 { i += 1 }
            guard i > f else { throw error("expected digits after '.'") }
        }
        if i < p.count, p[i] == UInt8(ascii: "e") || p[i] == UInt8(ascii: "E") {
            integral = false
            i += 1
            if i < p.count, p[i] == UInt8(ascii: "+") || p[i] == UInt8(ascii: "-") { i += 1 }
            let e = i
            while i < p.count, p[i] >= 0x30 && p[i] <= 0x39 { i += 1 }
            guard i > e else { throw error("expected digits in exponent") }
        }
        if integral, i - digits <= 18 {  // at most 18 digits: no overflow
            var v = 0
            for k in digits..<i { v = v &* 10 &+ Int(p[k] &- 0x30) }
            return .int(p[start] == UInt8(ascii: "-") ? -v : v)
        }
        let text = String(decoding: UnsafeBufferPointer(rebasing: p[start..<i]), as: UTF8.self)
        if integral, let v = Int(text) { return .int(v) }
        guard let d = Double(text) else { throw error("number out of range", at: start) }
        return .double(d)
    }

    mutating func string() throws(JSONValue.ParseError) -> String {
        let quote = i
        i += 1
        let start = i
        // Fast path: no escapes, the bytes are the string.
        var bits: UInt8 = 0
        while i < p.count {
            let b = p[i]
            if b == UInt8(ascii: "\"") {
                guard let s = Self.string(UnsafeBufferPointer(rebasing: p[start..<i]), ascii: bits < 0x80) else {
                    throw error("invalid UTF-8 in string", at: quote)
                }
                i += 1
                return s
            }
            if b == UInt8(ascii: "\\") { break }
            if b < 0x20 { throw error("control character in string") }
            bits |= b
            i += 1
        }
        var out = Array(p[start..<i])
        while true {
            guard i < p.count else { throw error("unterminated string", at: quote) }
            let b = p[i]
            if b == UInt8(ascii: "\"") { i += 1; break }
            if b < 0x20 { throw error("control character in string") }
            if b != UInt8(ascii: "\\") { out.append(b); i += 1; continue }
            guard i + 1 < p.count else { throw error("unterminated string", at: quote) }
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
                var scalar = try hex4()
                if scalar >= 0xD800 && scalar < 0xDC00 {
                    guard i + 1 < p.count, p[i] == UInt8(ascii: "\\"), p[i + 1] == UInt8(ascii: "u") else {
                        throw error("unpaired surrogate in \\u escape")
                    }
                    i += 2
                    let low = try hex4()
                    guard low >= 0xDC00 && low < 0xE000 else { throw error("unpaired surrogate in \\u escape") }
                    scalar = 0x10000 + ((scalar - 0xD800) << 10) + (low - 0xDC00)
                } else if scalar >= 0xDC00 && scalar < 0xE000 {
                    throw error("unpaired surrogate in \\u escape")
                }
                guard let u = Unicode.Scalar(scalar) else { throw error("invalid \\u escape") }
                out.append(contentsOf: u.utf8)
            default:
                throw error(e >= 0x20 && e < 0x7F ? "invalid escape '\\\(Character(Unicode.Scalar(e)))'" : "invalid escape", at: i - 2)
            }
        }
        guard let s = out.withUnsafeBufferPointer({ Self.string($0, ascii: false) }) else {
            throw error("invalid UTF-8 in string", at: quote)
        }
        return s
    }

    /// The string of `bytes` if they are valid UTF-8. (`String(validating:as:)` is not specialised
    /// for buffers: a generic-metadata lookup per call, a third of the time to read a tokenizer.json.)
    static func string(_ bytes: UnsafeBufferPointer<UInt8>, ascii: Bool) -> String? {
        let s = String(decoding: bytes, as: UTF8.self)
        if ascii { return s }
        // Decoding replaces invalid UTF-8 with U+FFFD: the bytes come back unchanged exactly when they are valid.
        let same = s.utf8.withContiguousStorageIfAvailable { $0.elementsEqual(bytes) } ?? s.utf8.elementsEqual(bytes)
        return same ? s : nil
    }

    mutating func hex4() throws(JSONValue.ParseError) -> UInt32 {
        guard i + 4 <= p.count else { throw error("truncated \\u escape") }
        var v: UInt32 = 0
        for k in 0..<4 {
            guard let d = hexValue(p[i + k]) else { throw error("bad hex digit in \\u escape", at: i + k) }
            v = v << 4 | UInt32(d)
        }
        i += 4
        return v
    }
}

extension JSONValue: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByFloatLiteral, ExpressibleByNilLiteral
{
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .int(value) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(floatLiteral value: Double) { self = .double(value) }
    public init(nilLiteral: ()) { self = .null }
    public init(arrayLiteral elements: JSONValue...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSONValue)...) {
        self = .object(Dictionary(elements, uniquingKeysWith: { _, b in b }))
    }
}

extension JSONValue.ParseError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}

/// The value of one hex digit (either case), nil for any other byte.
package func hexValue(_ c: UInt8) -> UInt8? {
    switch c {
    case UInt8(ascii: "0")...UInt8(ascii: "9"): c - UInt8(ascii: "0")
    case UInt8(ascii: "a")...UInt8(ascii: "f"): c - UInt8(ascii: "a") + 10
    case UInt8(ascii: "A")...UInt8(ascii: "F"): c - UInt8(ascii: "A") + 10
    default: nil
    }
}
