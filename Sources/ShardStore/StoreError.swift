// Errors of the store, written for people: what failed, the subject quoted, a hint when one helps.

import Tensors

public enum StoreError: Error, CustomStringConvertible, Equatable {
    case notAStore(path: String, reason: String)
    case alreadyAStore(path: String)
    case unsupportedStoreVersion(path: String, version: Int)
    case invalidRefName(String, reason: String)
    case invalidRunName(String, reason: String)
    case unknownRef(String)
    case ambiguousPrefix(String, candidates: [String])
    case missingObject(ObjectID, neededBy: String?)
    case corruptObject(ObjectID, path: String, reason: String)
    case refConflict(String, expected: String, found: String)
    case invalidJSON(what: String, reason: String)


    public var description: String {
        switch self {
        case let .notAStore(path, reason):
            return "not a bridge store: '\(path)' (\(reason))\nhint: create one with 'bridge init --store \(path)'"
        case let .alreadyAStore(path):
            return "a bridge store already exists at '\(path)'"
        case let .unsupportedStoreVersion(path, version):
            return "store '\(path)' has format version \(version), which this bridge does not read (it reads version \(Store.formatVersion))"
        case let .invalidRefName(name, reason):
            return "invalid ref name '\(name)': \(reason)\nhint: ref names are paths like 'models/qwen-0.5b' made of letters, digits, '.', '_', '-'"
        case let .invalidRunName(name, reason):
            return "invalid run name '\(name)': \(reason)"
        case let .unknownRef(name):
            return "unknown ref or object '\(name)'\nhint: 'bridge ckpt ls' lists refs; ids may be abbreviated to 8 or more hex digits"
        case let .ambiguousPrefix(prefix, candidates):
            return "ambiguous object id prefix '\(prefix)': matches \(candidates.prefix(5).joined(separator: ", "))\(candidates.count > 5 ? ", ..." : "")\nhint: give more hex digits"
        case let .missingObject(id, neededBy):
            return "missing object \(id)" + (neededBy.map { " (needed by \($0))" } ?? "")
        case let .corruptObject(id, path, reason):
            return "corrupt object \(id) at '\(path)': \(reason)\nhint: 'bridge ckpt verify' lists every damaged object and what needs it; the store is never repaired silently"
        case let .refConflict(name, expected, found):
            return "ref '\(name)' changed concurrently: expected \(expected), found \(found)"
        case let .invalidJSON(what, reason):
            return "invalid JSON in \(what): \(reason)"
        }
    }
}

extension StoreError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}
