// Reading the 1-D columns of pipeline tensor sets (token shards, responses, scores), with errors
// that name the set and the tensor.

import Checkpoint
import ShardStore
import Tensors

extension Store {
    /// The values of a 1-D tensor of the set, or nil when the set has no such tensor.
    func column<T: BitwiseCopyable>(_ set: TensorSet, _ name: String, _ dtype: DType, as: T.Type = T.self) throws -> [T]? {
        guard let e = set.entry(name) else { return nil }
        guard e.dtype == dtype, e.shape.count == 1, MemoryLayout<T>.size == dtype.size else {
            throw PipelineError.invalidInput("tensor '\(name)' of set \(set.id?.hex.prefix(12) ?? "") is \(e.dtype.rawValue)\(e.shape), expected 1-D \(dtype.rawValue)")
        }
        return try loadTensor(e).buffer.withUnsafeBytes { Array($0.bindMemory(to: T.self)) }
    }

    /// Like `column`, but a missing tensor is an error.
    func requiredColumn<T: BitwiseCopyable>(_ set: TensorSet, _ name: String, _ dtype: DType, as: T.Type = T.self) throws -> [T] {
        guard let values: [T] = try column(set, name, dtype) else {
            throw PipelineError.invalidInput("set \(set.id?.hex.prefix(12) ?? "") has no tensor '\(name)'")
        }
        return values
    }

    /// `count` strings stored as UTF-8 bytes (tensor `name`) cut by `offsets` (i64 [count+1]).
    func stringColumn(_ set: TensorSet, _ name: String, offsets offsetsName: String, count n: Int) throws -> [String] {
        let bytes: [UInt8] = try requiredColumn(set, name, .u8)
        let o: [Int64] = try requiredColumn(set, offsetsName, .i64)
        let label = "set \(set.id?.hex.prefix(12) ?? "")"
        guard o.count == n + 1, let parts = split(bytes, by: o) else { throw PipelineError.invalidInput("\(label): \(offsetsName) do not partition \(name)") }
        return try parts.enumerated().map { i, part in
            guard let s = String(validating: part, as: UTF8.self) else { throw PipelineError.invalidInput("\(label): \(name)[\(i)] is not UTF-8") }
            return s
        }
    }
}

/// Splits `flat` by `offsets` (n+1 non-decreasing values from 0 to flat.count); nil when they do not partition it.
func split<T>(_ flat: [T], by offsets: [Int64]) -> [ArraySlice<T>]? {
    let o = offsets.map(Int.init)
    guard let first = o.first, first == 0, o.last == flat.count, zip(o, o.dropFirst()).allSatisfy({ $0 <= $1 }) else { return nil }
    return (0..<(o.count - 1)).map { flat[o[$0]..<o[$0 + 1]] }
}

/// Arrays stored back to back, and their n+1 offsets (the inverse of `split`).
func ragged<T>(_ parts: [[T]]) -> ([T], [Int64]) {
    var flat: [T] = []
    flat.reserveCapacity(parts.reduce(0) { $0 + $1.count })
    var offsets: [Int64] = [0]
    for p in parts {
        flat += p
        offsets.append(Int64(flat.count))
    }
    return (flat, offsets)
}

/// Strings stored as UTF-8 bytes back to back, and their offsets.
func raggedUTF8(_ strings: [String]) -> ([UInt8], [Int64]) { ragged(strings.map { Array($0.utf8) }) }
