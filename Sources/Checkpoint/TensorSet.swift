// Tensor sets (checkpoints): a JSON manifest object listing tensors by name with dtype, shape and
// the object ids of their data; the checkpoint id is the manifest's id. schemas/tensor-set.schema.json
// describes the manifest:
//
//   {"format": "bridge-tensor-set", "version": 1,
//    "tensors": [{"name": "...", "dtype": "f32", "shape": [..], "bytes": N,
//                 "chunks": [{"id": "<32 hex>", "bytes": n}, ...]}, ...],   sorted by name
//    "metadata": {...}, "parent": "<32 hex>" | null}
//
// Tensors larger than the store's chunk size are split into row-aligned chunks. Float data is
// stored raw (memory-mapped in place when read); other dtypes use the store's compression policy.

import ShardStore
import Tensors

public struct TensorChunk: Sendable, Equatable {
    public let id: ObjectID
    public let bytes: Int

    public init(id: ObjectID, bytes: Int) {
        self.id = id
        self.bytes = bytes
    }
}

public struct TensorEntry: Sendable, Equatable {
    public let name: String
    public let dtype: DType
    public let shape: [Int]
    public let chunks: [TensorChunk]
    public var byteCount: Int { chunks.reduce(0) { $0 + $1.bytes } }
    public var elementCount: Int { shapeElementCount(shape) ?? 0 }

    public init(name: String, dtype: DType, shape: [Int], chunks: [TensorChunk]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.chunks = chunks
    }
}

public struct TensorSet: Sendable {
    public static let format = "bridge-tensor-set"

    /// The manifest id (nil until stored).
    public var id: ObjectID?
    /// Sorted by name.
    public var tensors: [TensorEntry]
    public var metadata: [String: JSONValue]
    public var parent: ObjectID?

    public init(tensors: [TensorEntry], metadata: [String: JSONValue] = [:], parent: ObjectID? = nil) {
        self.tensors = tensors.sorted { $0.name < $1.name }
        self.metadata = metadata
        self.parent = parent
    }

    public var byteCount: Int { tensors.reduce(0) { $0 + $1.byteCount } }
    public var elementCount: Int { tensors.reduce(0) { $0 + $1.elementCount } }

    public func entry(_ name: String) -> TensorEntry? {
        // Binary search: tensors are sorted by name.
        var lo = 0, hi = tensors.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if tensors[mid].name < name { lo = mid + 1 } else { hi = mid }
        }
        return lo < tensors.count && tensors[lo].name == name ? tensors[lo] : nil
    }

    public var json: JSONValue {
        .object([
            "format": .string(TensorSet.format),
            "version": 1,
            "tensors": .array(tensors.map { t in
                .object(["name": .string(t.name), "dtype": .string(t.dtype.rawValue),
                         "shape": .array(t.shape.map { .int($0) }), "bytes": .int(t.byteCount),
                         "chunks": .array(t.chunks.map { ["id": .string($0.id.hex), "bytes": .int($0.bytes)] })])
            }),
            "metadata": .object(metadata),
            "parent": parent.map { .string($0.hex) } ?? .null,
        ])
    }

    /// Decodes and checks a manifest (unknown keys, duplicate names and inconsistent sizes are errors).
    public init(json: JSONValue, id: ObjectID) throws {
        func bad(_ why: String) -> CheckpointError { .notATensorSet(id, reason: why) }
        guard let o = json.objectValue, o["format"]?.stringValue == TensorSet.format else { throw bad("no \"format\": \"\(TensorSet.format)\"") }
        if let extra = o.keys.sorted().first(where: { !["format", "version", "tensors", "metadata", "parent"].contains($0) }) {
            throw bad("unknown key '\(extra)'")
        }
        guard o["version"]?.intValue == 1 else { throw bad("unsupported version \(o["version"] ?? .null)") }
        guard let list = o["tensors"]?.arrayValue else { throw bad("missing 'tensors'") }
        var entries: [TensorEntry] = []
        // Sizes are summed with overflow checks (a manifest is outside input): a tensor's bytes
        // must be what its shape needs, and the set's total must be a number of bytes at all.
        var total = 0
        for (i, t) in list.enumerated() {
            guard let name = t["name"]?.stringValue else { throw bad("tensor \(i) has no name") }
            guard let dtype = t["dtype"]?.stringValue.flatMap(DType.init(rawValue:)) else { throw bad("tensor '\(name)': bad dtype") }
            guard let shape = t["shape"]?.arrayValue?.compactMap(\.intValue), shape.count == t["shape"]?.arrayValue?.count,
                  let n = shapeElementCount(shape) else { throw bad("tensor '\(name)': bad shape") }
            guard let chunkList = t["chunks"]?.arrayValue, !chunkList.isEmpty else { throw bad("tensor '\(name)': no chunks") }
            guard case let (needed, false) = n.multipliedReportingOverflow(by: dtype.size) else {
                throw bad("tensor '\(name)': \(dtype.rawValue)\(shape) has more bytes than a 64-bit size can count")
            }
            var chunks: [TensorChunk] = []
            var bytes = 0
            for c in chunkList {
                guard let cid = c["id"]?.stringValue.flatMap(ObjectID.init(hex:)), let b = c["bytes"]?.intValue, b >= 0 else {
                    throw bad("tensor '\(name)': bad chunk")
                }
                guard case let (sum, false) = bytes.addingReportingOverflow(b) else {
                    throw bad("tensor '\(name)': chunk sizes overflow a 64-bit size")
                }
                bytes = sum
                chunks.append(TensorChunk(id: cid, bytes: b))
            }
            let entry = TensorEntry(name: name, dtype: dtype, shape: shape, chunks: chunks)
            guard bytes == needed, t["bytes"]?.intValue == bytes else {
                throw bad("tensor '\(name)': chunk sizes do not add up to \(dtype.rawValue)\(shape)")
            }
            guard case let (sum, false) = total.addingReportingOverflow(bytes) else {
                throw bad("tensor '\(name)': the tensors' sizes add up to more bytes than a 64-bit size can count")
            }
            total = sum
            if let last = entries.last, last.name >= name { throw bad("tensors are not sorted by unique name at '\(name)'") }
            entries.append(entry)
        }
        tensors = entries
        metadata = o["metadata"]?.objectValue ?? [:]
        parent = o["parent"]?.stringValue.flatMap(ObjectID.init(hex:))
        self.id = id
    }
}

extension Store {
    /// The codec a tensor's data gets: float weights stay raw so they map in place.
    func codec(for dtype: DType) -> CodecPolicy {
        dtype.isFloatingPoint ? config.floatCompression : config.compression
    }

    /// Stores one tensor's bytes (chunked above the store's chunk size) and returns its entry.
    /// `base`: a delta base hint, e.g. the same tensor one step earlier; its chunks are the bases
    /// of this tensor's chunks when dtype and chunking agree (the store decides whether a delta pays).
    /// `floatCodec`: the codec of float full copies instead of the store's `float_compression`.
    public func putTensor(name: String, dtype: DType, shape: [Int], bytes: UnsafeRawBufferPointer, base: TensorEntry? = nil,
                          floatCodec: CodecPolicy? = nil) throws -> TensorEntry {
        guard let n = shapeElementCount(shape), n * dtype.size == bytes.count else {
            throw CheckpointError.badSafetensors(path: name, reason: "tensor '\(name)': \(bytes.count) bytes do not hold \(dtype.rawValue)\(shape)")
        }
        let rowBytes = shape.count <= 1 ? dtype.size : max(dtype.size, (shapeElementCount(Array(shape.dropFirst())) ?? 1) * dtype.size)
        let rowsPerChunk = max(1, config.chunkBytes / max(rowBytes, 1))
        let chunkSize = rowsPerChunk * rowBytes
        var chunks: [TensorChunk] = []
        var offset = 0
        let bases = base.flatMap { b in b.dtype == dtype && b.byteCount == bytes.count ? b.chunks : nil }
        repeat {
            let n = min(chunkSize, bytes.count - offset)
            let part = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
            let hint = bases.flatMap { $0.count > chunks.count && $0[chunks.count].bytes == n ? $0[chunks.count].id : nil }
            let r = try put(part, kind: .tensor, tag: dtype.code, codec: dtype.isFloatingPoint ? floatCodec ?? codec(for: dtype) : codec(for: dtype), base: hint)
            chunks.append(TensorChunk(id: r.id, bytes: n))
            offset += n
        } while offset < bytes.count
        return TensorEntry(name: name, dtype: dtype, shape: shape, chunks: chunks)
    }

    public func putTensor(name: String, _ tensor: Tensor, base: TensorEntry? = nil, floatCodec: CodecPolicy? = nil) throws -> TensorEntry {
        try tensor.buffer.withUnsafeBytes { try putTensor(name: name, dtype: tensor.dtype, shape: tensor.shape, bytes: $0, base: base, floatCodec: floatCodec) }
    }

    /// Stores many tensors in parallel (both cores hash and write). `bases`: a delta base hint,
    /// the set whose same-named tensors are each tensor's base.
    public func putTensors(_ items: [(name: String, tensor: Tensor)], bases: TensorSet? = nil, floatCodec: CodecPolicy? = nil) throws -> [TensorEntry] {
        let results = Locked<[Int: TensorEntry]>([:])
        func put(_ i: Int) throws {
            let entry = try putTensor(name: items[i].name, items[i].tensor, base: bases?.entry(items[i].name), floatCodec: floatCodec)
            results.withLock { $0[i] = entry }
        }
        // small tensors on more threads than cores (their time is fsync waits); large ones, whose
        // encoding buffers are as large as they are, one per core (bounds the memory in flight)
        let large = items.indices.filter { items[$0].tensor.byteCount > Store.largeWriteBytes }
        let small = items.indices.filter { items[$0].tensor.byteCount <= Store.largeWriteBytes }
        try parallelForBlocking(small.count, threads: Store.writeThreads) { try put(small[$0]) }
        try parallelForThrowing(large.count) { try put(large[$0]) }
        let all = results.withLock { $0 }
        return items.indices.map { all[$0]! }
    }

    /// Stores the manifest of a tensor set; returns the checkpoint id.
    @discardableResult
    public func putTensorSet(_ set: TensorSet) throws -> ObjectID {
        var names = Set<String>()
        for t in set.tensors where !names.insert(t.name).inserted {
            throw CheckpointError.badSafetensors(path: t.name, reason: "duplicate tensor name '\(t.name)'")
        }
        return try putManifest(set.json)
    }

    public func putTensorSet(_ entries: [TensorEntry], metadata: [String: JSONValue] = [:], parent: ObjectID? = nil) throws -> ObjectID {
        try putTensorSet(TensorSet(tensors: entries, metadata: metadata, parent: parent))
    }

    /// Reads a tensor set's manifest (only the manifest).
    public func tensorSet(_ id: ObjectID) throws -> TensorSet {
        let header = try header(id)
        guard header.kind == .manifest else { throw CheckpointError.notATensorSet(id, reason: "it is a \(header.kind.name) object") }
        return try TensorSet(json: try readJSON(id), id: id)
    }

    /// A tensor's data: a zero-copy view of the memory-mapped object when it is one raw chunk,
    /// else an owned copy. With `verify`, every chunk is re-hashed against its id; errors name the tensor.
    /// `deltaBase`: another tensor already loaded (verified) whose chunks may be the delta bases of
    /// this one's (a tensor against its own delta base, as in a diff): those chunks decode against
    /// it, so only the deltas are read.
    public func loadTensor(_ entry: TensorEntry, verify: Bool = true, deltaBase: (entry: TensorEntry, tensor: Tensor)? = nil) throws -> Tensor {
        do {
            // A manifest's sizes and dtype are checked against the objects' headers before any
            // buffer of that size is allocated: a few bytes of manifest must not ask for
            // gigabytes, nor read one dtype's bytes as another's.
            for chunk in entry.chunks {
                let h = try header(chunk.id)
                guard h.logicalLength == chunk.bytes else {
                    throw StoreError.corruptObject(chunk.id, path: objectPath(chunk.id),
                                                   reason: "holds \(h.logicalLength) bytes, the manifest says \(chunk.bytes)")
                }
                guard h.kind == .tensor, h.tag == entry.dtype.code else {
                    let held = h.kind == .tensor ? DType(code: h.tag)?.rawValue ?? "dtype code \(h.tag)" : "a \(h.kind.name) object"
                    throw StoreError.corruptObject(chunk.id, path: objectPath(chunk.id),
                                                   reason: "holds \(held), the manifest says \(entry.dtype.rawValue)")
                }
            }
            if let (baseEntry, baseTensor) = deltaBase, baseEntry.chunks.map(\.bytes) == entry.chunks.map(\.bytes),
               baseTensor.buffer.count == entry.byteCount,
               try entry.chunks.indices.allSatisfy({ try header(entry.chunks[$0].id).base == baseEntry.chunks[$0].id }) {
                let buffer = ByteBuffer(zeroedCount: entry.byteCount)
                try buffer.withUnsafeMutableBytes { out in
                    try baseTensor.buffer.withUnsafeBytes { all in
                        var offset = 0
                        for (chunk, baseChunk) in zip(entry.chunks, baseEntry.chunks) {
                            let base = UnsafeRawBufferPointer(rebasing: all[offset..<(offset + chunk.bytes)])
                            let bytes = try read(chunk.id, verify: verify, knownBase: baseChunk.id, bytes: base)
                            bytes.withUnsafeBytes { src in
                                if src.count > 0 { (out.baseAddress! + offset).copyMemory(from: src.baseAddress!, byteCount: src.count) }
                            }
                            offset += chunk.bytes
                        }
                    }
                }
                return Tensor(dtype: entry.dtype, shape: entry.shape, buffer: buffer)
            }
            if entry.chunks.count == 1 {
                let bytes = try read(entry.chunks[0].id, verify: verify)
                guard bytes.count == entry.byteCount else {
                    throw StoreError.corruptObject(entry.chunks[0].id, path: objectPath(entry.chunks[0].id),
                                                   reason: "holds \(bytes.count) bytes, the manifest says \(entry.byteCount)")
                }
                let buffer = bytes.withUnsafeBytes { ByteBuffer(borrowing: $0, owner: bytes) }
                return Tensor(dtype: entry.dtype, shape: entry.shape, buffer: buffer)
            }
            let buffer = ByteBuffer(zeroedCount: entry.byteCount)
            try buffer.withUnsafeMutableBytes { out in
                var offset = 0
                for chunk in entry.chunks {
                    let bytes = try read(chunk.id, verify: verify)
                    guard bytes.count == chunk.bytes, offset + chunk.bytes <= out.count else {
                        throw StoreError.corruptObject(chunk.id, path: objectPath(chunk.id), reason: "holds \(bytes.count) bytes, the manifest says \(chunk.bytes)")
                    }
                    bytes.withUnsafeBytes { src in
                        if src.count > 0 { (out.baseAddress! + offset).copyMemory(from: src.baseAddress!, byteCount: src.count) }
                    }
                    offset += chunk.bytes
                }
            }
            return Tensor(dtype: entry.dtype, shape: entry.shape, buffer: buffer)
        } catch let StoreError.corruptObject(id, path, reason) {
            throw StoreError.corruptObject(id, path: path, reason: "\(reason) (tensor '\(entry.name)')")
        } catch let StoreError.missingObject(id, _) {
            throw StoreError.missingObject(id, neededBy: "tensor '\(entry.name)'")
        }
    }

    /// All tensors of a set, by name.
    public func loadTensors(_ set: TensorSet, verify: Bool = true) throws -> [String: Tensor] {
        Dictionary(uniqueKeysWithValues: zip(set.tensors.map(\.name), try loadTensors(set.tensors, verify: verify)))
    }

    /// The tensors of `entries`, in order, decoded on all cores (a delta is decoded against its
    /// base, a grouped object block by block: CPU work); the error is the first entry's that fails.
    public func loadTensors(_ entries: [TensorEntry], verify: Bool = true) throws -> [Tensor] {
        let loaded = Locked([Tensor?](repeating: nil, count: entries.count))
        try parallelForThrowing(entries.count) { i in
            let t = try loadTensor(entries[i], verify: verify)
            loaded.withLock { $0[i] = t }
        }
        return loaded.withLock { $0.map { $0! } }
    }
}
