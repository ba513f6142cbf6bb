// Reading and writing the safetensors format (https://huggingface.co/docs/safetensors):
//
//   u64 LE  N             length of the JSON header
//   N bytes header         {"__metadata__": {str: str}?, NAME: {"dtype": "F32", "shape": [..],
//                           "data_offsets": [begin, end]}, ...}, possibly padded with spaces
//   bytes   data           tensors, offsets relative to the start of this section
//
// The reader trusts nothing: the header length against the file size and a 100 MB cap, strict
// JSON, known dtypes, non-negative shapes, overflow-checked byte counts equal to the offsets,
// offsets inside the data, no overlaps, no gaps and no trailing bytes (as the reference library
// requires). Every error names the file and the tensor.

import ShardStore
import Tensors

#if canImport(Glibc)
import Glibc
#endif

public struct SafetensorsEntry: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    /// Byte range within the data section.
    public let begin: Int
    public let end: Int
    public var byteCount: Int { end - begin }
}

public final class SafetensorsFile: @unchecked Sendable {
    public static let maxHeaderBytes = 100_000_000

    public let path: String
    /// Entries in data order (ascending offsets).
    public let entries: [SafetensorsEntry]
    public let metadata: [String: String]
    public let dataOffset: Int
    let map: MappedFile

    public var names: [String] { entries.map(\.name) }

    public init(path: String) throws {
        self.path = path
        do { map = try MappedFile(path: path, populate: true) } catch let e as IOError {
            throw CheckpointError.badSafetensors(path: path, reason: e.description)
        }
        (entries, metadata, dataOffset) = try map.withUnsafeBytes { try SafetensorsFile.parse($0, path: path) }
    }

    static func parse(_ file: UnsafeRawBufferPointer, path: String) throws -> ([SafetensorsEntry], [String: String], Int) {
        func bad(_ why: String) -> CheckpointError { .badSafetensors(path: path, reason: why) }
        guard file.count >= 8 else { throw bad("file is \(file.count) bytes, too short for the 8-byte header length") }
        let n = UInt64(littleEndian: file.loadUnaligned(as: UInt64.self))
        guard n <= UInt64(maxHeaderBytes) else { throw bad("header length \(n) exceeds the \(maxHeaderBytes)-byte limit") }
        guard Int(n) <= file.count - 8 else { throw bad("header length \(n) runs past the end of the \(file.count)-byte file") }
        let headerBytes = UnsafeRawBufferPointer(rebasing: file[8..<(8 + Int(n))])
        guard headerBytes.first == UInt8(ascii: "{") else { throw bad("header does not start with '{'") }
        let json: JSONValue
        do { json = try JSONValue(parsing: headerBytes) } catch { throw bad("header is not valid JSON: \(error)") }
        guard let object = json.objectValue else { throw bad("header is not a JSON object") }
        let dataOffset = 8 + Int(n)
        let dataLength = file.count - dataOffset

        var metadata: [String: String] = [:]
        var entries: [SafetensorsEntry] = []
        for name in object.keys.sorted() {
            let value = object[name]!
            if name == "__metadata__" {
                guard let m = value.objectValue else { throw bad("__metadata__ is not an object") }
                for (k, v) in m {
                    guard let s = v.stringValue else { throw bad("__metadata__ value for '\(k)' is not a string") }
                    metadata[k] = s
                }
                continue
            }
            guard let info = value.objectValue else { throw bad("tensor '\(name)': entry is not an object") }
            if let extra = info.keys.sorted().first(where: { !["dtype", "shape", "data_offsets"].contains($0) }) {
                throw bad("tensor '\(name)': unknown key '\(extra)'")
            }
            guard let dtypeName = info["dtype"]?.stringValue else { throw bad("tensor '\(name)': missing dtype") }
            guard let dtype = DType(safetensorsName: dtypeName) else { throw bad("tensor '\(name)': unknown dtype '\(dtypeName)'") }
            guard let shapeValues = info["shape"]?.arrayValue else { throw bad("tensor '\(name)': missing shape") }
            var shape: [Int] = []
            for d in shapeValues {
                guard case let .int(v) = d, v >= 0 else { throw bad("tensor '\(name)': shape \(info["shape"]!) has a dimension that is not a non-negative integer") }
                shape.append(v)
            }
            guard let offsets = info["data_offsets"]?.arrayValue, offsets.count == 2,
                  case let .int(begin) = offsets[0], case let .int(end) = offsets[1], begin >= 0, end >= begin
            else { throw bad("tensor '\(name)': data_offsets must be two integers [begin, end] with 0 <= begin <= end") }
            guard end <= dataLength else {
                throw bad("tensor '\(name)': data_offsets [\(begin), \(end)] run past the \(dataLength)-byte data section")
            }
            guard let count = shapeElementCount(shape), case let (bytes, false) = count.multipliedReportingOverflow(by: dtype.size) else {
                throw bad("tensor '\(name)': shape \(shape) is too large")
            }
            guard bytes == end - begin else {
                throw bad("tensor '\(name)': \(dtypeName)\(shape) needs \(bytes) bytes but data_offsets span \(end - begin)")
            }
            entries.append(SafetensorsEntry(name: name, dtype: dtype, shape: shape, begin: begin, end: end))
        }
        entries.sort { ($0.begin, $0.end, $0.name) < ($1.begin, $1.end, $1.name) }
        var position = 0
        for e in entries {
            if e.begin < position { throw bad("tensor '\(e.name)': data_offsets [\(e.begin), \(e.end)] overlap the previous tensor") }
            if e.begin > position { throw bad("tensor '\(e.name)': data_offsets leave a gap of \(e.begin - position) bytes before it") }
            position = e.end
        }
        if position != dataLength { throw bad("\(dataLength - position) bytes after the last tensor's data") }
        return (entries, metadata, dataOffset)
    }

    public func entry(_ name: String) throws -> SafetensorsEntry {
        guard let e = entries.first(where: { $0.name == name }) else { throw CheckpointError.unknownTensor(name, set: "'\(path)'") }
        return e
    }

    /// Lends the bytes of one tensor (in place, from the memory map).
    public func withBytes<R>(of entry: SafetensorsEntry, _ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try map.withUnsafeBytes { all in
            try body(UnsafeRawBufferPointer(rebasing: all[(dataOffset + entry.begin)..<(dataOffset + entry.end)]))
        }
    }

    /// A tensor viewing the file's memory map (no copy).
    public func tensor(_ name: String) throws -> Tensor {
        let e = try entry(name)
        let buffer = withBytes(of: e) { ByteBuffer(borrowing: $0, owner: map) }
        return Tensor(dtype: e.dtype, shape: e.shape, buffer: buffer)
    }

    public func withFileBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try map.withUnsafeBytes(body)
    }
}

public enum SafetensorsWriter {
    /// The order the reference library writes in: larger dtypes first, then by name.
    public static func order(_ names: [(name: String, dtype: DType)]) -> [Int] {
        names.indices.sorted { a, b in
            let (x, y) = (names[a], names[b])
            return x.dtype.size != y.dtype.size ? x.dtype.size > y.dtype.size : x.name < y.name
        }
    }

    /// The header bytes (length prefix included) for tensors laid out in the given order.
    public static func header(_ tensors: [(name: String, dtype: DType, shape: [Int], bytes: Int)], metadata: [String: String]) -> [UInt8] {
        var object: [String: JSONValue] = [:]
        if !metadata.isEmpty { object["__metadata__"] = .object(metadata.mapValues { .string($0) }) }
        var offset = 0
        for t in tensors {
            object[t.name] = ["dtype": .string(t.dtype.safetensorsName), "shape": .array(t.shape.map { .int($0) }),
                              "data_offsets": [.int(offset), .int(offset + t.bytes)]]
            offset += t.bytes
        }
        var json = Array(JSONValue.object(object).canonical.utf8)
        while (8 + json.count) % 8 != 0 { json.append(UInt8(ascii: " ")) }
        var out: [UInt8] = []
        for i in 0..<8 { out.append(UInt8(truncatingIfNeeded: UInt64(json.count) >> (8 * UInt64(i)))) }
        return out + json
    }

    /// Writes `tensors` to `path` atomically (a temporary file next to it, then rename).
    public static func write(_ tensors: [(String, Tensor)], metadata: [String: String] = [:], to path: String) throws {
        let ord = order(tensors.map { (name: $0.0, dtype: $0.1.dtype) })
        let layout = ord.map { i in (name: tensors[i].0, dtype: tensors[i].1.dtype, shape: tensors[i].1.shape, bytes: tensors[i].1.byteCount) }
        try writeFile(path: path, header: header(layout, metadata: metadata), partSizes: layout.map(\.bytes)) { k, sink in
            try tensors[ord[k]].1.buffer.withUnsafeBytes { try sink($0) }
        }
    }

    /// Writes `header` and then parts of the given sizes, back to back, into `path` through the
    /// store's export funnel (ShardStore/ExportFile.swift: a temporary, fsync, rename, directory
    /// fsync). Parts are produced and written on all cores: `part(k, sink)` must pass part k's
    /// bytes to `sink` (in one or more pieces, in order).
    public static func writeFile(path: String, header: [UInt8], partSizes: [Int],
                                 part: (Int, (UnsafeRawBufferPointer) throws -> Void) throws -> Void) throws {
        var offsets: [Int] = []
        var end = header.count
        for size in partSizes {
            offsets.append(end)
            end += size
        }
        do {
            try ExportFile.write(path: path, size: end) { file in
                try header.withUnsafeBytes { try file.write($0, at: 0) }
                // Largest parts first, so the cores finish together.
                let schedule = partSizes.indices.sorted { partSizes[$0] > partSizes[$1] }
                try parallelForThrowing(schedule.count) { s in
                    let k = schedule[s]
                    var position = offsets[k]
                    try part(k) { bytes in
                        guard position + bytes.count <= offsets[k] + partSizes[k] else {
                            throw CheckpointError.io(path: path, reason: "part \(k) is longer than its \(partSizes[k]) bytes")
                        }
                        try file.write(bytes, at: position)
                        position += bytes.count
                    }
                    guard position == offsets[k] + partSizes[k] else {
                        throw CheckpointError.io(path: path, reason: "part \(k) is shorter than its \(partSizes[k]) bytes")
                    }
                }
            }
        } catch let e as StoreError {
            throw CheckpointError.io(path: path, reason: e.description)
        }
    }
}
