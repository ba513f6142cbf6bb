// JSON Lines input: one JSON object per line, UTF-8. Every failure names the file and the
// 1-based line (and the key, for a missing or mistyped field); blank lines are skipped.

import Foundation
import IO
import Tensors

/// A problem with a dataset or JSONL input file.
public enum DatasetError: Error, Equatable, CustomStringConvertible {
    case unreadable(file: String, reason: String)
    case invalidUTF8(file: String, line: Int)
    case malformedJSON(file: String, line: Int, detail: String)
    case notAnObject(file: String, line: Int)
    case missingField(file: String, line: Int, key: String)
    case wrongType(file: String, line: Int, key: String, expected: String)
    case invalidValue(file: String, line: Int, key: String, reason: String)
    case unknownFormat(file: String, keys: [String])
    case invalidArgument(String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "cannot read '\(file)': \(reason)"
        case let .invalidUTF8(file, line):
            return "'\(file)' line \(line): invalid UTF-8\nhint: JSONL files must be UTF-8 encoded"
        case let .malformedJSON(file, line, detail):
            return "'\(file)' line \(line): malformed JSON: \(detail)\nhint: each line must hold one complete JSON object"
        case let .notAnObject(file, line):
            return "'\(file)' line \(line): expected a JSON object"
        case let .missingField(file, line, key):
            return "'\(file)' line \(line): missing field '\(key)'"
        case let .wrongType(file, line, key, expected):
            return "'\(file)' line \(line): field '\(key)' must be \(expected)"
        case let .invalidValue(file, line, key, reason):
            return "'\(file)' line \(line): field '\(key)': \(reason)"
        case let .unknownFormat(file, keys):
            return "'\(file)': unrecognised dataset format (fields: \(keys.joined(separator: ", ")))\n"
                + "hint: supported: " + DatasetFormat.allCases.map(\.rawValue).joined(separator: ", ")
        case let .invalidArgument(message):
            return message
        }
    }
}

extension JSONValue {
    /// A number or string as answer text (`27.0` → "27").
    var answerText: String? {
        switch self {
        case let .string(s): return s
        case let .int(i): return String(i)
        case let .double(d):
            if d == d.rounded(), abs(d) < 1e15 { return String(Int(d)) }
            return String(d)
        default: return nil
        }
    }

    /// The value with every number that is exactly an integer as `.int` (`3.0`, `1e2`, `-0.0` →
    /// 3, 100, 0): a dataset field holds an integer whichever way the number is spelt.
    var integralNumbersAsInts: JSONValue {
        switch self {
        case let .double(d): if let i = Int(exactly: d) { return .int(i) } else { return self }
        case let .array(a): return .array(a.map(\.integralNumbersAsInts))
        case let .object(o): return .object(o.mapValues(\.integralNumbersAsInts))
        default: return self
        }
    }
}

/// One object of a JSONL file with the location needed for error messages.
public struct JSONLine: Sendable {
    public let file: String
    public let line: Int
    public let fields: [String: JSONValue]

    public func string(_ key: String) throws(DatasetError) -> String {
        guard let v = fields[key] else { throw .missingField(file: file, line: line, key: key) }
        guard case let .string(s) = v else { throw .wrongType(file: file, line: line, key: key, expected: "a string") }
        return s
    }

    public func optionalString(_ key: String) throws(DatasetError) -> String? {
        guard let v = fields[key], v != .null else { return nil }
        guard case let .string(s) = v else { throw .wrongType(file: file, line: line, key: key, expected: "a string") }
        return s
    }

    /// A string or a number, read as answer text.
    public func answerText(_ key: String) throws(DatasetError) -> String {
        guard let v = fields[key] else { throw .missingField(file: file, line: line, key: key) }
        guard let s = v.answerText else { throw .wrongType(file: file, line: line, key: key, expected: "a string or a number") }
        return s
    }

    public func int(_ key: String) throws(DatasetError) -> Int {
        guard let v = fields[key] else { throw .missingField(file: file, line: line, key: key) }
        guard case let .int(i) = v else { throw .wrongType(file: file, line: line, key: key, expected: "an integer") }
        return i
    }

    public func stringArray(_ key: String) throws(DatasetError) -> [String] {
        guard let v = fields[key] else { throw .missingField(file: file, line: line, key: key) }
        guard case let .array(items) = v else { throw .wrongType(file: file, line: line, key: key, expected: "a list of strings") }
        var out: [String] = []
        for item in items {
            guard case let .string(s) = item else { throw .wrongType(file: file, line: line, key: key, expected: "a list of strings") }
            out.append(s)
        }
        return out
    }
}

public enum JSONLines {
    /// Reads every object of a JSONL file.
    public static func read(contentsOf url: URL) throws(DatasetError) -> [JSONLine] {
        let bytes: [UInt8]
        do { bytes = try InputFile.read(url.path) } catch { throw .unreadable(file: url.path, reason: error.reason) }
        return try parse(bytes, file: url.path)
    }

    /// Parses JSONL bytes; `file` is the name used in errors.
    public static func parse(_ bytes: [UInt8], file: String) throws(DatasetError) -> [JSONLine] {
        var out: [JSONLine] = []
        var start = 0
        var lineNumber = 0
        // A UTF-8 byte order mark is allowed at the very start.
        if bytes.starts(with: [0xEF, 0xBB, 0xBF]) { start = 3 }
        while start < bytes.count {
            lineNumber += 1
            var end = start
            while end < bytes.count, bytes[end] != 0x0A { end += 1 }
            var slice = bytes[start..<end]
            if slice.last == 0x0D { slice = slice.dropLast() }
            start = end + 1
            guard String(validating: slice, as: UTF8.self) != nil else {
                throw .invalidUTF8(file: file, line: lineNumber)
            }
            if slice.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            let value: JSONValue
            do {
                value = try slice.withUnsafeBytes { b in Result { () throws(JSONValue.ParseError) in try JSONValue(parsing: b) } }.get()
            } catch {
                throw .malformedJSON(file: file, line: lineNumber, detail: "\(error.message) (column \(error.column))")
            }
            guard case let .object(fields) = value else { throw .notAnObject(file: file, line: lineNumber) }
            out.append(JSONLine(file: file, line: lineNumber, fields: fields.mapValues(\.integralNumbersAsInts)))
        }
        return out
    }
}

extension DatasetError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}
