// Pre-tokenized supervised fine-tuning records, one JSON object per line:
//   {"ids": [...]}                                   loss on every next token
//   {"prompt_ids": [...], "completion_ids": [...]}   loss on the completion tokens only
// Parsing is strict: unknown keys, non-integer ids and empty records are errors naming the line.

import Foundation
import IO
import Tensors

public enum SFTError: Error, CustomStringConvertible, Equatable {
    case badRecord(path: String, line: Int, reason: String)
    case emptyDataset(path: String)
    case tooLong(path: String, line: Int, length: Int, limit: Int)
    case tokenOutOfVocabulary(path: String, line: Int, id: Int, vocab: Int)

    public var description: String {
        switch self {
        case let .badRecord(path, line, reason): "\(path):\(line): \(reason)"
        case let .emptyDataset(path): "\(path): no records (hint: one JSON object per line, {\"ids\": [...]} or {\"prompt_ids\": [...], \"completion_ids\": [...]})"
        case let .tooLong(path, line, n, limit): "\(path):\(line): record of \(n) tokens exceeds the model's context length \(limit)"
        case let .tokenOutOfVocabulary(path, line, id, vocab): "\(path):\(line): token id \(id) is out of the vocabulary (0..<\(vocab))"
        }
    }
}

/// One training sequence: input tokens and per-position targets (−100 = no loss).
public struct SFTExample: Sendable, Equatable {
    public var tokens: [Int32]
    public var targets: [Int32]
    /// Source line (1-based) for error messages.
    public var line: Int

    /// Targets are the next tokens from position `lossFrom − 1` on (the first predicted token is
    /// tokens[lossFrom]); positions before, and the last, have no target.
    public init(tokens: [Int32], lossFrom: Int, line: Int = 0) {
        self.tokens = tokens
        self.line = line
        targets = tokens.indices.map { t in
            t + 1 < tokens.count && t + 1 >= lossFrom ? tokens[t + 1] : -100
        }
    }
}

public enum SFTData {
    public static func parse(jsonl: Data, path: String) throws -> [SFTExample] {
        var out: [SFTExample] = []
        var lineNumber = 0
        for raw in jsonl.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
            lineNumber += 1
            let line = raw.last == UInt8(ascii: "\r") ? raw.dropLast() : raw
            if line.allSatisfy({ $0 == 0x20 || $0 == 0x09 }) { continue }
            func bad(_ why: String) -> SFTError { .badRecord(path: path, line: lineNumber, reason: why) }
            let record: SFTRecord
            do { record = try SFTRecord(line) } catch { throw bad(error.reason) }
            if let t = record.ids {
                guard t.count >= 2 else { throw bad("\"ids\" needs at least 2 tokens to predict one") }
                out.append(SFTExample(tokens: t, lossFrom: 1, line: lineNumber))
            } else if let p = record.promptIDs, let c = record.completionIDs {
                guard !p.isEmpty, !c.isEmpty else { throw bad("\"prompt_ids\" and \"completion_ids\" must both be non-empty") }
                out.append(SFTExample(tokens: p + c, lossFrom: p.count, line: lineNumber))
            }
        }
        if out.isEmpty { throw SFTError.emptyDataset(path: path) }
        return out
    }
}

/// One JSONL record, read strictly.
struct SFTRecord {
    struct Problem: Error { let reason: String }

    var ids: [Int32]?
    var promptIDs: [Int32]?
    var completionIDs: [Int32]?

    init(_ line: Data) throws(Problem) {
        let parsed = line.withUnsafeBytes { b in Result { () throws(JSONValue.ParseError) in try JSONValue(parsing: b) } }
        guard case let .object(fields)? = try? parsed.get() else { throw Problem(reason: "not a JSON object") }
        let keys = Set(fields.keys)
        guard keys == ["ids"] || keys == ["prompt_ids", "completion_ids"] else {
            throw Problem(reason: "expected keys {\"ids\"} or {\"prompt_ids\", \"completion_ids\"}, got \(keys.sorted())")
        }
        func read(_ k: String) throws(Problem) -> [Int32]? {
            guard let value = fields[k] else { return nil }
            // Token ids are integers that fit Int32 (`3.0` and `3e0` are 3); the array is checked whole
            // before its signs.
            guard let items = value.arrayValue else { throw Problem(reason: "\"\(k)\" must be an array of non-negative integer token ids") }
            var v: [Int32] = []
            v.reserveCapacity(items.count)
            for item in items {
                let id: Int32?
                switch item {
                case let .int(i): id = Int32(exactly: i)
                case let .double(d): id = Int32(exactly: d)
                default: id = nil
                }
                guard let id else { throw Problem(reason: "\"\(k)\" must be an array of non-negative integer token ids") }
                v.append(id)
            }
            if let bad = v.first(where: { $0 < 0 }) { throw Problem(reason: "\"\(k)\" holds \(bad), not a token id") }
            return v
        }
        ids = try read("ids")
        promptIDs = try read("prompt_ids")
        completionIDs = try read("completion_ids")
    }
}

extension SFTError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}
