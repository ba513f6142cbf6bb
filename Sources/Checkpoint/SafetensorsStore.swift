// Moving tensor sets between safetensors files and the store. Import hashes and writes chunks on
// both cores straight from the file's memory map; export streams (verified) objects into a
// temporary file that is renamed into place. The file's __metadata__ travels in the set's
// metadata under "safetensors_metadata", so a round trip gives it back.

import ShardStore
import Tensors

extension Store {
    /// Imports every tensor of a safetensors file as a tensor set; returns the stored set (with its id).
    /// Nothing is written when the file is invalid.
    public func importSafetensors(path: String, metadata extra: [String: JSONValue] = [:], parent: ObjectID? = nil) throws -> TensorSet {
        let file = try SafetensorsFile(path: path)
        let entries = try putTensors(from: file, entries: file.entries)
        var metadata = extra
        if !file.metadata.isEmpty { metadata["safetensors_metadata"] = .object(file.metadata.mapValues { .string($0) }) }
        var set = TensorSet(tensors: entries, metadata: metadata, parent: parent)
        set.id = try putTensorSet(set)
        return set
    }

    /// Stores the given entries of a safetensors file, chunk by chunk, in parallel.
    public func putTensors(from file: SafetensorsFile, entries: [SafetensorsEntry], rename: (String) -> String = { $0 }) throws -> [TensorEntry] {
        struct Work { let entry: Int; let chunk: Int; let begin: Int; let count: Int }
        var work: [Work] = []
        var chunkCounts: [Int] = []
        for (i, e) in entries.enumerated() {
            let rowBytes = e.shape.count <= 1 ? e.dtype.size : max(e.dtype.size, (shapeElementCount(Array(e.shape.dropFirst())) ?? 1) * e.dtype.size)
            let chunkSize = max(1, config.chunkBytes / max(rowBytes, 1)) * rowBytes
            var offset = 0, k = 0
            repeat {
                let n = min(chunkSize, e.byteCount - offset)
                work.append(Work(entry: i, chunk: k, begin: e.begin + offset, count: n))
                offset += n
                k += 1
            } while offset < e.byteCount
            chunkCounts.append(k)
        }
        // Largest first, so the two cores finish together.
        work.sort { $0.count > $1.count }
        let results = Locked<[Int: [Int: Result<TensorChunk, Error>]]>([:])
        file.withFileBytes { all in
            parallelFor(work.count) { w in
                let item = work[w]
                let e = entries[item.entry]
                let start = file.dataOffset + item.begin
                let bytes = UnsafeRawBufferPointer(rebasing: all[start..<(start + item.count)])
                let r = Result { () throws -> TensorChunk in
                    let put = try put(bytes, kind: .tensor, tag: e.dtype.code, codec: codec(for: e.dtype))
                    return TensorChunk(id: put.id, bytes: item.count)
                }
                results.withLock { $0[item.entry, default: [:]][item.chunk] = r }
            }
        }
        let all = results.withLock { $0 }
        return try entries.enumerated().map { i, e in
            let chunks = try (0..<chunkCounts[i]).map { try all[i]![$0]!.get() }
            return TensorEntry(name: rename(e.name), dtype: e.dtype, shape: e.shape, chunks: chunks)
        }
    }

    /// Writes a tensor set as a safetensors file (tensors in the reference library's order). Every
    /// object is verified against its id on the way; a damaged one aborts the export and leaves `path` untouched.
    public func exportSafetensors(_ set: TensorSet, to path: String, metadata override: [String: String]? = nil, verify: Bool = true) throws {
        let order = SafetensorsWriter.order(set.tensors.map { (name: $0.name, dtype: $0.dtype) })
        let layout = order.map { i in
            let t = set.tensors[i]
            return (name: t.name, dtype: t.dtype, shape: t.shape, bytes: t.byteCount)
        }
        var metadata: [String: String] = [:]
        if let m = set.metadata["safetensors_metadata"]?.objectValue {
            for (k, v) in m { if let s = v.stringValue { metadata[k] = s } }
        }
        if let override { metadata = override }
        try SafetensorsWriter.writeFile(path: path, header: SafetensorsWriter.header(layout, metadata: metadata), partSizes: layout.map(\.bytes)) { k, sink in
            let entry = set.tensors[order[k]]
            for chunk in entry.chunks {
                do {
                    var streamed = 0
                    try stream(chunk.id, verify: verify) { block in
                        streamed += block.count
                        guard streamed <= chunk.bytes else {
                            throw StoreError.corruptObject(chunk.id, path: objectPath(chunk.id), reason: "holds more than the \(chunk.bytes) bytes the manifest says")
                        }
                        try sink(block)
                    }
                    guard streamed == chunk.bytes else {
                        throw StoreError.corruptObject(chunk.id, path: objectPath(chunk.id), reason: "holds \(streamed) bytes, the manifest says \(chunk.bytes)")
                    }
                } catch let StoreError.corruptObject(id, p, reason) {
                    throw StoreError.corruptObject(id, path: p, reason: "\(reason) (tensor '\(entry.name)')")
                } catch let StoreError.missingObject(id, _) {
                    throw StoreError.missingObject(id, neededBy: "tensor '\(entry.name)'")
                }
            }
        }
    }
}
