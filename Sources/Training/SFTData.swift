// Pre-tokenized supervised fine-tuning records, one JSON object per line:
//   {"ids": [...]}                                   loss on every next token
//   {"prompt_ids": [...], "completion_ids": [...]}   loss on the completion tokens only
// Parsing is strict: unknown keys, non-integer ids and empty records are errors naming the line.

import Foundation
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
            do { record = try JSONDecoder().decode(SFTRecord.self, from: Data(line)) } catch let e as SFTRecord.Problem {
                throw bad(e.reason)
            } catch let DecodingError.typeMismatch(_, context) {
                throw bad("\"\(context.codingPath.first?.stringValue ?? "?")\" must be an array of non-negative integer token ids")
            } catch let DecodingError.dataCorrupted(context) where !context.codingPath.isEmpty {
                throw bad("\"\(context.codingPath.first?.stringValue ?? "?")\" must be an array of non-negative integer token ids")
            } catch {
                throw bad("not a JSON object")
            }
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

/// One JSONL record, decoded strictly.
struct SFTRecord: Decodable {
    struct Problem: Error { let reason: String }
    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ s: String) { stringValue = s }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    var ids: [Int32]?
    var promptIDs: [Int32]?
    var completionIDs: [Int32]?

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Key.self)
        let keys = Set(c.allKeys.map(\.stringValue))
        guard keys == ["ids"] || keys == ["prompt_ids", "completion_ids"] else {
            throw Problem(reason: "expected keys {\"ids\"} or {\"prompt_ids\", \"completion_ids\"}, got \(keys.sorted())")
        }
        func read(_ k: String) throws -> [Int32]? {
            guard keys.contains(k) else { return nil }
            let v = try c.decode([Int32].self, forKey: Key(k))
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
