// Reading every codec, and delta chains: a delta object (`delta-sub`, `delta-xor`) decodes against its base (itself
// possibly a delta, one depth lower), and a decoded grouped object is kept in a small per-process
// cache so that the next step's delta reads its base from memory. A delta whose base is missing,
// corrupt or does not fit (kind, dtype, length, depth) is a corrupt object whose reason names the base.

import Synchronization
import Tensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Decoded grouped objects (`shuffle-lz4` and the deltas), least recently used first out. An entry is valid
/// while the identity (inode, size, mtime) of its file and of every file of its chain is unchanged. Budget: $BRIDGE_DECODE_CACHE_MIB
/// (default 1024; 0 turns the cache off).
final class DecodedCache: Sendable {
    static let shared = DecodedCache(budget: {
        if let p = getenv("BRIDGE_DECODE_CACHE_MIB"), let n = Int(String(cString: p)), n >= 0 { return n << 20 }
        return 1 << 30
    }())

    struct Entry {
        /// The object's file first, then its bases'.
        var chain: [Link]
        var header: ObjectHeader
        var depth: Int
        var bytes: ObjectBytes
        var used: Int
    }
    struct State {
        var entries: [String: Entry] = [:]
        var bytes = 0
        var clock = 0
    }
    let budget: Int
    private let state = Locked(State())

    init(budget: Int) { self.budget = budget }

    struct Link: Sendable {
        var path: String
        var identity: Posix.FileIdentity
    }

    func lookup(_ path: String) -> Entry? {
        guard budget > 0, let found = state.withLock({ $0.entries[path] }) else { return nil }
        let fresh = found.chain.allSatisfy { Posix.identity($0.path) == $0.identity }
        return state.withLock { s in
            guard var e = s.entries[path] else { return nil }
            guard fresh, e.chain.map(\.identity) == found.chain.map(\.identity) else {
                s.bytes -= e.bytes.count
                s.entries[path] = nil
                return nil
            }
            s.clock += 1
            e.used = s.clock
            s.entries[path] = e
            return e
        }
    }

    func insert(_ path: String, chain: [Link], header: ObjectHeader, depth: Int, bytes: ObjectBytes) {
        guard bytes.count <= budget / 2 else { return }
        state.withLock { s in
            if let old = s.entries[path] { s.bytes -= old.bytes.count }
            s.clock += 1
            s.entries[path] = Entry(chain: chain, header: header, depth: depth, bytes: bytes, used: s.clock)
            s.bytes += bytes.count
            while s.bytes > budget, let victim = s.entries.min(by: { $0.value.used < $1.value.used }) {
                s.bytes -= victim.value.bytes.count
                s.entries[victim.key] = nil
            }
        }
    }

    func removeAll() { state.withLock { $0 = State() } }
}

extension Store {
    /// Counters for tests and benchmarks: grouped objects decoded (cache misses), and delta bases
    /// loaded from the store while decoding (not given by the caller).
    public static let decodedObjects = Atomic<Int>(0)
    public static let deltaBaseLoads = Atomic<Int>(0)

    /// Drops this process's cache of decoded objects.
    public static func clearDecodedCache() { DecodedCache.shared.removeAll() }

    struct Loaded {
        var header: ObjectHeader
        /// 0 for full copies; a delta's chain length.
        var depth: Int
        var bytes: ObjectBytes
        /// The files read: the object's, then its bases'.
        var chain: [DecodedCache.Link]
    }

    /// Reads and checks an object. `expectedDepth`: the depth a delta's base must have; `knownBase`:
    /// the caller's verified bytes of the object's delta base, used instead of reading it.
    func load(_ id: ObjectID, verify: Bool, useCache: Bool, expectedDepth: Int? = nil,
              knownBase: (id: ObjectID, bytes: UnsafeRawBufferPointer)? = nil) throws -> Loaded {
        let path = objectPath(id)
        func corrupt(_ why: String) -> StoreError { .corruptObject(id, path: path, reason: why) }
        if useCache, knownBase == nil, let hit = DecodedCache.shared.lookup(path) {
            if let expectedDepth, hit.depth != expectedDepth { throw corrupt("chain depth \(hit.depth), but its delta needs depth \(expectedDepth)") }
            return Loaded(header: hit.header, depth: hit.depth, bytes: hit.bytes, chain: hit.chain)
        }
        guard let identity = Posix.identity(path) else { throw StoreError.missingObject(id, neededBy: nil) }
        let map = try MappedFile(path: path, populate: verify)
        let header = try map.withUnsafeBytes {
            try ObjectHeader.parse($0, expectedID: id, fileLength: map.count, path: path)
        }
        var depth = 0
        var chain = [DecodedCache.Link(path: path, identity: identity)]
        /// Grouped codecs hash each block as it is decoded.
        var hasher: SharedObjectHasher? = nil
        let bytes: ObjectBytes
        switch header.codec {
        case .raw:
            bytes = ObjectBytes(map: map, offset: ObjectHeader.size, count: header.logicalLength)
        case .lz4:
            bytes = ObjectBytes(ownedCount: header.logicalLength)
            try map.withUnsafeBytes { all in
                let payload = UnsafeRawBufferPointer(rebasing: all[ObjectHeader.size...])
                try bytes.withOwnedMutableBytes { out in
                    do { try LZ4Codec.decompress(payload, into: out) } catch let LZ4Codec.DecodeError.malformed(why) {
                        throw corrupt(why)
                    }
                }
            }
        case .shuffleLZ4, .deltaXOR, .deltaSub:
            Store.decodedObjects.add(1, ordering: .relaxed)
            bytes = ObjectBytes(ownedCount: header.logicalLength)
            let width = GroupedCodec.width(kind: header.kind, tag: header.tag)
            let prefix: (width: Int, depth: Int, bitPlanes: Int)
            do {
                prefix = try map.withUnsafeBytes { try GroupedCodec.parsePrefix(UnsafeRawBufferPointer(rebasing: $0[ObjectHeader.size...]),
                                                                                logicalLength: header.logicalLength, expectedWidth: width) }
            } catch let LZ4Codec.DecodeError.malformed(why) { throw corrupt(why) }
            depth = prefix.depth
            // Before any base is read: each link of a chain must be one shallower than the last,
            // so that objects naming each other as bases (a → b → a) end here, not in a recursion
            // that never ends.
            if let expectedDepth, depth != expectedDepth { throw corrupt("chain depth \(depth), but its delta needs depth \(expectedDepth)") }
            hasher = SharedObjectHasher(kind: header.kind, tag: header.tag, length: header.logicalLength)
            if header.codec == .shuffleLZ4, depth != 0 { throw corrupt("shuffle-lz4 object claims chain depth \(depth)") }
            if header.codec.isDelta, depth < 1 { throw corrupt("\(header.codec.name) object claims chain depth 0") }
            let layout = GroupedLayout(width: prefix.width, bitPlanes: prefix.bitPlanes, op: header.codec.deltaOp)
            func decode(base: UnsafeRawBufferPointer?) throws {
                try map.withUnsafeBytes { all in
                    let payload = UnsafeRawBufferPointer(rebasing: all[ObjectHeader.size...])
                    try bytes.withOwnedMutableBytes { out in
                        do { try GroupedCodec.decode(payload, layout: layout, base: base, into: out, hasher: hasher) } catch let LZ4Codec.DecodeError.malformed(why) {
                            throw corrupt(why)
                        }
                    }
                }
            }
            if header.codec == .shuffleLZ4 {
                try decode(base: nil)
            } else if let knownBase, knownBase.id == header.base {
                guard knownBase.bytes.count == header.logicalLength else {
                    throw corrupt("its delta base \(header.base) holds \(knownBase.bytes.count) bytes, not \(header.logicalLength)")
                }
                try decode(base: knownBase.bytes)
            } else {
                let base = try loadBase(of: id, header: header, depth: depth, verify: verify, useCache: useCache)
                try base.bytes.withUnsafeBytes { try decode(base: $0) }
                chain += base.chain
            }
        }
        if let expectedDepth, depth != expectedDepth { throw corrupt("chain depth \(depth), but its delta needs depth \(expectedDepth)") }
        if verify || header.codec != .raw {
            let actual = hasher?.finalize() ?? bytes.withUnsafeBytes { ObjectHasher.id(of: $0, kind: header.kind, tag: header.tag) }
            guard actual == id else { throw corrupt("content hashes to \(actual)") }
        }
        if useCache, header.codec.isGrouped {
            DecodedCache.shared.insert(path, chain: chain, header: header, depth: depth, bytes: bytes)
        }
        return Loaded(header: header, depth: depth, bytes: bytes, chain: chain)
    }

    /// The verified bytes of a delta's base; any fault is the delta's, naming the base.
    private func loadBase(of id: ObjectID, header: ObjectHeader, depth: Int, verify: Bool, useCache: Bool) throws -> Loaded {
        let path = objectPath(id), baseID = header.base
        func broken(_ why: String) -> StoreError { .corruptObject(id, path: path, reason: "its delta base \(baseID) \(why)") }
        Store.deltaBaseLoads.add(1, ordering: .relaxed)
        let base: Loaded
        do {
            base = try load(baseID, verify: true, useCache: useCache, expectedDepth: depth - 1)
        } catch let StoreError.missingObject(missing, _) {
            throw broken(missing == baseID ? "is missing" : "is broken: object \(missing) of its chain is missing")
        } catch let StoreError.corruptObject(bad, _, why) {
            throw broken(bad == baseID ? "is corrupt: \(why)" : "is broken at \(bad): \(why)")
        }
        guard base.header.kind == header.kind, base.header.tag == header.tag else {
            throw broken("is a \(base.header.kind.name) object with tag \(base.header.tag), not \(header.kind.name) with tag \(header.tag)")
        }
        guard base.header.logicalLength == header.logicalLength else {
            throw broken("holds \(base.header.logicalLength) bytes, not \(header.logicalLength)")
        }
        return base
    }

    /// The delta chain depth of an object (0 for a full copy), from its header and payload prefix.
    public func chainDepth(_ id: ObjectID) throws -> Int { try headerAndDepth(id).depth }

    /// An object's header and delta chain depth, read through one open of its file.
    func headerAndDepth(_ id: ObjectID) throws -> (header: ObjectHeader, depth: Int) {
        let (h, payload) = try header(id, following: 2)
        guard h.codec.isGrouped else { return (h, 0) }
        guard payload.count == 2 else { throw StoreError.corruptObject(id, path: objectPath(id), reason: "payload prefix is cut short") }
        return (h, Int(payload[payload.startIndex + 1]))
    }

    /// The payload of `bytes` as a delta against `base`, or nil when no delta should be kept: the
    /// base is unreadable or of another kind, dtype or length, the chain would exceed the store's
    /// bounds (`delta_max_depth`, `delta_max_chain_bytes`), or the delta does not save `delta_min_saving`.
    func deltaPayload(_ bytes: UnsafeRawBufferPointer, kind: ObjectKind, tag: UInt8, base: ObjectID) -> [UInt8]? {
        guard config.deltaMaxDepth > 0, bytes.count > 0 else { return nil }
        let width = GroupedCodec.width(kind: kind, tag: tag)
        guard bytes.count % width == 0, let (h, baseDepth) = try? headerAndDepth(base), h.kind == kind, h.tag == tag,
              h.logicalLength == bytes.count, h.codec.isDelta || baseDepth == 0, baseDepth + 1 <= config.deltaMaxDepth,
              bytes.count <= config.deltaMaxChainBytes / (baseDepth + 2),
              let loaded = try? load(base, verify: true, useCache: true) else { return nil }
        return loaded.bytes.withUnsafeBytes { b in
            GroupedCodec.encode(bytes, layout: GroupedCodec.writerLayout(width: width, delta: true), base: b, depth: baseDepth + 1,
                                minSaving: config.deltaMinSaving)
        }
    }

    /// The logical bytes of `id`, decoding a delta against `knownBase` (the caller's verified bytes
    /// of object `baseID`) when it is the object's base, so that only the delta is read.
    public func read(_ id: ObjectID, verify: Bool = true, knownBase baseID: ObjectID, bytes: UnsafeRawBufferPointer) throws -> ObjectBytes {
        try load(id, verify: verify, useCache: false, knownBase: (baseID, bytes)).bytes
    }
}
