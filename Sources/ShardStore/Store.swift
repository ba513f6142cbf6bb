// The content-addressed object store: a directory holding config.json, objects/<2 hex>/<32 hex>,
// refs/, journal/, tmp/ and a lock file. See README.md ("The store") and schemas/.
//
// Write protocol: an object is written to this process's directory under tmp/, fsynced, then
// linked into objects/ without clobbering (an existing object with that id is already correct) and
// the fan-out directory fsynced. Nothing is ever visible half-written.

import Synchronization
import Tensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How to encode an object's payload.
public enum CodecPolicy: String, Sendable, Codable {
    /// Stored as is; memory-mapped and used in place.
    case raw
    /// LZ4 blocks, always.
    case lz4
    /// LZ4 when it saves at least 1/8 of the bytes, else raw.
    case auto
    /// Byte-grouped LZ4 (the dtype's bytes plane by plane), always.
    case shuffleLZ4 = "shuffle-lz4"
}

public struct StoreConfig: Equatable, Sendable {
    /// Tensors above this many bytes are stored as row-aligned chunks of at most this size.
    public var chunkBytes: Int = 512 << 20
    /// The codec for tensors whose dtype is not a float (float weights are stored raw so they map in place).
    public var compression: CodecPolicy = .auto
    /// gc never removes an unreachable object younger than this.
    public var gcGraceSeconds: Double = 3600
    /// The codec for full copies of float tensors: raw (memory-mapped in place) or shuffle-lz4.
    public var floatCompression: CodecPolicy = .raw
    /// The codec for full copies of float tensors written with a delta base hint that get no
    /// delta while deltas are on (a trajectory's anchors: every `delta_max_depth + 1`-th step of
    /// θ, θ̂, w): such a copy is read once, by the next step, so it need not map in place. raw or
    /// shuffle-lz4 (kept when it saves `Store.anchorMinSaving`).
    public var anchorCompression: CodecPolicy = .shuffleLZ4
    /// The longest delta chain a writer makes; the next write against its end is a full copy (0: no deltas).
    /// A read of an object not in the decode cache decodes its whole chain, so this bounds its cost.
    public var deltaMaxDepth: Int = 8
    /// A delta is written only when a read of it, decoding its chain from the full copy, handles at
    /// most this many logical bytes ((depth + 1) × length): large tensors get shorter chains (a
    /// 256 MiB chunk at most three deltas, a 512 MiB one one, above that none), so that no read
    /// decodes more than this.
    public var deltaMaxChainBytes: Int = 1 << 30
    /// A delta is kept only when it saves at least this fraction of the logical bytes.
    public var deltaMinSaving: Double = 0.2

    public init() {}

    static let keys: Set<String> = ["format", "version", "chunk_bytes", "compression", "gc_grace_seconds",
                                    "float_compression", "delta_max_depth", "delta_min_saving", "delta_max_chain_bytes",
                                    "anchor_compression"]

    /// Keys added after version 1's first release are written only when they differ from the default,
    /// so that an older bridge still opens a store that does not use them.
    var json: JSONValue {
        var o: [String: JSONValue] = ["format": "bridge-store", "version": .int(Store.formatVersion), "chunk_bytes": .int(chunkBytes),
                                      "compression": .string(compression.rawValue), "gc_grace_seconds": .double(gcGraceSeconds)]
        let d = StoreConfig()
        if floatCompression != d.floatCompression { o["float_compression"] = .string(floatCompression.rawValue) }
        if anchorCompression != d.anchorCompression { o["anchor_compression"] = .string(anchorCompression.rawValue) }
        if deltaMaxDepth != d.deltaMaxDepth { o["delta_max_depth"] = .int(deltaMaxDepth) }
        if deltaMinSaving != d.deltaMinSaving { o["delta_min_saving"] = .double(deltaMinSaving) }
        if deltaMaxChainBytes != d.deltaMaxChainBytes { o["delta_max_chain_bytes"] = .int(deltaMaxChainBytes) }
        return .object(o)
    }

    init(json: JSONValue, path: String) throws {
        func bad(_ why: String) -> StoreError { .notAStore(path: path, reason: "config.json: \(why)") }
        guard let o = json.objectValue else { throw bad("not a JSON object") }
        if let unknown = o.keys.sorted().first(where: { !StoreConfig.keys.contains($0) }) {
            throw bad("unknown key '\(unknown)'")
        }
        guard o["format"]?.stringValue == "bridge-store" else { throw bad("'format' is not \"bridge-store\"") }
        guard let version = o["version"]?.intValue else { throw bad("missing 'version'") }
        guard version == Store.formatVersion else { throw StoreError.unsupportedStoreVersion(path: path, version: version) }
        if let v = o["chunk_bytes"] {
            guard let n = v.intValue, n >= 4096 else { throw bad("'chunk_bytes' must be an integer >= 4096") }
            chunkBytes = n
        }
        if let v = o["compression"] {
            guard let s = v.stringValue, let c = CodecPolicy(rawValue: s) else { throw bad("'compression' must be raw, lz4, auto or shuffle-lz4") }
            compression = c
        }
        if let v = o["float_compression"] {
            guard let s = v.stringValue, let c = CodecPolicy(rawValue: s) else { throw bad("'float_compression' must be raw, lz4, auto or shuffle-lz4") }
            floatCompression = c
        }
        if let v = o["anchor_compression"] {
            guard let s = v.stringValue, let c = CodecPolicy(rawValue: s), c == .raw || c == .shuffleLZ4 else {
                throw bad("'anchor_compression' must be raw or shuffle-lz4")
            }
            anchorCompression = c
        }
        if let v = o["delta_max_depth"] {
            guard let n = v.intValue, n >= 0, n <= GroupedCodec.maxDepth else { throw bad("'delta_max_depth' must be an integer in 0...\(GroupedCodec.maxDepth)") }
            deltaMaxDepth = n
        }
        if let v = o["delta_max_chain_bytes"] {
            guard let n = v.intValue, n >= 0 else { throw bad("'delta_max_chain_bytes' must be an integer >= 0") }
            deltaMaxChainBytes = n
        }
        if let v = o["delta_min_saving"] {
            guard let x = v.doubleValue, x >= 0, x < 1 else { throw bad("'delta_min_saving' must be a number in [0, 1)") }
            deltaMinSaving = x
        }
        if let v = o["gc_grace_seconds"] {
            guard let s = v.doubleValue, s >= 0 else { throw bad("'gc_grace_seconds' must be a number >= 0") }
            gcGraceSeconds = s
        }
    }
}

public final class Store: @unchecked Sendable {
    public static let formatVersion = 1
    /// An anchor (a full copy written with a base hint) is compressed only when that saves this
    /// fraction: trained weights save 12–14 % under shuffle-lz4, noise nothing.
    static let anchorMinSaving = 0.05
    /// Threads that store a tensor set's objects side by side (`putTensors`): each object is
    /// fsynced twice (file, directory) before it is named, and overlapping fsyncs are committed
    /// together, so more writers than cores finish sooner (env BRIDGE_WRITE_THREADS overrides).
    public static let writeThreads: Int = {
        if let v = getenv("BRIDGE_WRITE_THREADS"), let n = Int(String(cString: v)), n > 0 { return n }
        return 8
    }()
    /// Tensors larger than this are stored one per core instead (`putTensors`).
    public static let largeWriteBytes = 64 << 20
    public static let defaultDirectory = ".bridge"

    public let root: String
    public let config: StoreConfig

    private struct Session {
        var directory: String
        var lockHandle: FileHandle
        var counter: Int
    }
    private let session = Locked<Session?>(nil)

    /// The store directory to use: an explicit --store, else $BRIDGE_STORE, else ./.bridge.
    public static func location(explicit: String?) -> String {
        if let explicit, !explicit.isEmpty { return explicit }
        if let env = getenv("BRIDGE_STORE"), let s = String(validatingCString: env), !s.isEmpty { return s }
        return defaultDirectory
    }

    /// Creates a new, empty store at `path` (the directory may exist if it is empty).
    @discardableResult
    public static func create(at path: String, config: StoreConfig = StoreConfig()) throws -> Store {
        let root = normalise(path)
        if Posix.fileExists(root + "/config.json") { throw StoreError.alreadyAStore(path: root) }
        if Posix.fileExists(root) {
            guard Posix.isDirectory(root) else { throw StoreError.notAStore(path: root, reason: "it is a file") }
            guard try Posix.listDirectory(root).isEmpty else {
                throw StoreError.notAStore(path: root, reason: "directory exists and is not empty")
            }
        }
        try Posix.makeDirectory(root)
        for sub in ["objects", "refs", "journal", "tmp"] { try Posix.makeDirectory(root + "/" + sub) }
        let lock = try FileHandle.open(root + "/lock", flags: O_WRONLY | O_CREAT)
        try lock.sync()
        try Posix.writeFileAtomically(root + "/config.json", bytes: Array((config.json.pretty + "\n").utf8),
                                      temporary: root + "/tmp/config.json.\(getpid())")
        try Posix.syncDirectory(root)
        return try Store(at: root)
    }

    /// Opens an existing store; throws `notAStore` (naming the path) for anything else.
    public init(at path: String) throws {
        root = Store.normalise(path)
        guard Posix.isDirectory(root) else {
            throw StoreError.notAStore(path: root, reason: Posix.fileExists(root) ? "not a directory" : "no such directory")
        }
        guard let bytes = try Posix.readFile(root + "/config.json") else {
            throw StoreError.notAStore(path: root, reason: "no config.json")
        }
        let json: JSONValue
        do { json = try JSONValue(parsing: bytes) } catch {
            throw StoreError.notAStore(path: root, reason: "config.json is not valid JSON: \(error)")
        }
        config = try StoreConfig(json: json, path: root)
        for sub in ["objects", "refs", "journal", "tmp"] where !(try Posix.isRealDirectory(root + "/" + sub)) {
            throw StoreError.notAStore(path: root, reason: "missing directory '\(sub)/'")
        }
    }

    deinit {
        session.withLock { s in
            guard let s else { return }
            // Our own leftovers (none after successful writes); the directory goes if empty.
            if let names = try? Posix.listDirectory(s.directory), names == [".lock"] {
                try? Posix.unlinkIfExists(s.directory + "/.lock")
                try? Posix.removeDirectory(s.directory)
            }
            s.lockHandle.unlock()
        }
    }

    static func normalise(_ path: String) -> String {
        var p = path
        while p.count > 1 && p.hasSuffix("/") { p.removeLast() }
        return p
    }

    // MARK: paths

    func objectDirectory(_ id: ObjectID) -> String {
        root + "/objects/" + String(id.hex.prefix(2))
    }

    public func objectPath(_ id: ObjectID) -> String {
        let hex = id.hex
        return root + "/objects/" + String(hex.prefix(2)) + "/" + hex
    }

    /// A fresh path in this process's tmp directory, which is locked while the process lives so that
    /// gc can tell a live writer's files from a dead one's.
    func temporaryPath(_ stem: String) throws -> String {
        try session.withLock { s in
            try beginSession(&s)
            s!.counter += 1
            return s!.directory + "/\(stem).\(s!.counter)"
        }
    }

    /// Starts this process's writer session (its locked tmp directory) if it has none: gc keeps
    /// whatever a live session wrote or reused since it began.
    func beginSession() throws {
        try session.withLock { try beginSession(&$0) }
    }

    /// A writer's directory under tmp/: w-<pid>-<random>, and n-<pid>-<random> until it is locked.
    static let writerPrefix = "w-", startingWriterPrefix = "n-"

    /// Whether `entry` (a name under tmp/) is the directory of a writer that is starting: named
    /// n-<pid>-… by a process that is still running (on this host; another host's pid, or a
    /// reused one, reads as running).
    static func isStartingWriter(_ entry: String) -> Bool {
        guard entry.hasPrefix(startingWriterPrefix),
              let pid = entry.dropFirst(startingWriterPrefix.count).split(separator: "-").first.flatMap({ Int32($0) }) else { return false }
        return kill(pid, 0) == 0 || errno == EPERM
    }

    /// The writer's directory is made as `tmp/n-…`, its `.lock` created and locked, and only then
    /// renamed to `tmp/w-…`: gc takes an unlocked `w-` directory for a dead writer's, and made in
    /// place, a directory would be unlocked from its mkdir to its flock (a `gc --grace 0` in that
    /// moment removed a starting run's directory under it).
    private func beginSession(_ s: inout Session?) throws {
        guard s == nil else { return }
        let suffix = "\(Posix.processID())-" + String(UInt64.random(in: 0...UInt64.max), radix: 16)
        let staging = root + "/tmp/" + Store.startingWriterPrefix + suffix, dir = root + "/tmp/" + Store.writerPrefix + suffix
        try Posix.makeDirectory(staging)
        let lock = try FileHandle.open(staging + "/.lock", flags: O_WRONLY | O_CREAT)
        _ = try lock.lock(exclusive: true)
        try Posix.rename(staging, dir)
        s = Session(directory: dir, lockHandle: lock, counter: 0)
    }

    // MARK: the store lock

    /// Runs `body` holding the store's exclusive lock (ref updates, journal appends, gc).
    public func withLock<R>(_ body: () throws -> R) throws -> R {
        let h = try FileHandle.open(root + "/lock", flags: O_WRONLY | O_CREAT)
        _ = try h.lock(exclusive: true)
        defer { h.unlock() }
        return try body()
    }

    /// Runs `body` holding the store's lock shared: writers linking a delta, so that gc (which
    /// holds it exclusively) never sweeps a base between the writer's check and the link.
    func withSharedLock<R>(_ body: () throws -> R) throws -> R {
        let h = try FileHandle.open(root + "/lock", flags: O_RDONLY | O_CREAT)
        _ = try h.lock(exclusive: false)
        defer { h.unlock() }
        return try body()
    }

    // MARK: writing objects

    public struct PutResult: Sendable {
        public let id: ObjectID
        public let codec: Codec
        /// False when the object was already in the store.
        public let written: Bool
        /// The delta base, when the object was written as a delta.
        public var base: ObjectID? = nil
        /// Bytes stored after the header (0 when the object was already there).
        public var payloadBytes: Int = 0
    }

    /// Stores `bytes` as an object; returns its id. Already-present objects are not rewritten
    /// (their modification time is refreshed so gc's grace period protects them).
    @discardableResult
    public func put(_ bytes: UnsafeRawBufferPointer, kind: ObjectKind, tag: UInt8 = 0, codec: CodecPolicy = .raw) throws -> PutResult {
        let id = ObjectHasher.id(of: bytes, kind: kind, tag: tag)
        return try put(bytes, id: id, kind: kind, tag: tag, codec: codec)
    }

    @discardableResult
    public func put(_ bytes: [UInt8], kind: ObjectKind, tag: UInt8 = 0, codec: CodecPolicy = .raw) throws -> PutResult {
        try bytes.withUnsafeBytes { try put($0, kind: kind, tag: tag, codec: codec) }
    }

    /// Stores a JSON document as a manifest object (canonical encoding, LZ4 when it pays).
    @discardableResult
    public func putManifest(_ json: JSONValue) throws -> ObjectID {
        try put(json.canonicalBytes, kind: .manifest, codec: .auto).id
    }

    /// Stores `bytes` with a delta base hint: a `delta-sub` against `base` when the base is a
    /// readable object of the same kind, dtype and length, the chain stays within the store's
    /// `delta_max_depth` and the delta saves `delta_min_saving`; else as `codec` says, except that
    /// a float tensor `codec` would store raw is stored as the store's `anchor_compression` says
    /// when that saves `anchorMinSaving` (else raw: it maps in place).
    @discardableResult
    public func put(_ bytes: UnsafeRawBufferPointer, kind: ObjectKind, tag: UInt8 = 0, codec: CodecPolicy = .raw, base: ObjectID?) throws -> PutResult {
        let id = ObjectHasher.id(of: bytes, kind: kind, tag: tag)
        return try put(bytes, id: id, kind: kind, tag: tag, codec: codec, base: base)
    }

    /// `put` with an id the caller already computed (it must be the id of `bytes`).
    @discardableResult
    public func put(_ bytes: UnsafeRawBufferPointer, id: ObjectID, kind: ObjectKind, tag: UInt8, codec: CodecPolicy,
                    base: ObjectID? = nil) throws -> PutResult {
        let path = objectPath(id)
        // Reusing an object: made young under the shared lock, so that gc (which holds it
        // exclusively from mark to sweep) has either swept it already or will see it young.
        // (A new object, the common case, takes no lock: only a reuse needs one.)
        if Posix.fileExists(path), try { try beginSession(); return try withSharedLock { () -> Bool in
            guard Posix.fileExists(path) else { return false }
            Posix.touch(path)
            return true
        } }() {
            return PutResult(id: id, codec: (try? header(id).codec) ?? .raw, written: false)
        }
        var payloadOwner: [UInt8]? = nil
        var chosen = Codec.raw
        var baseID = ObjectID.zero
        if let base, base != id, let delta = deltaPayload(bytes, kind: kind, tag: tag, base: base) {
            payloadOwner = delta
            chosen = .deltaSub
            baseID = base
        } else {
            var codec = codec, minSaving = 0.0
            if base != nil, config.deltaMaxDepth > 0, codec == .raw, !bytes.isEmpty, kind == .tensor, DType(code: tag)?.isFloatingPoint == true {
                codec = config.anchorCompression
                minSaving = Store.anchorMinSaving
            }
            switch codec {
            case .raw: break
            case .lz4:
                payloadOwner = LZ4Codec.compress(bytes)
                chosen = .lz4
            case .auto:
                if let c = LZ4Codec.compress(bytes, minSaving: 0.125) {
                    payloadOwner = c
                    chosen = .lz4
                }
            case .shuffleLZ4:
                let width = GroupedCodec.width(kind: kind, tag: tag)
                let w = bytes.count % width == 0 ? width : 1
                if let p = GroupedCodec.encode(bytes, layout: GroupedCodec.writerLayout(width: w, delta: false), base: nil, depth: 0, minSaving: minSaving) {
                    payloadOwner = p
                    chosen = .shuffleLZ4
                }
            }
        }
        let payloadCount = payloadOwner?.count ?? bytes.count
        let header = ObjectHeader(codec: chosen, kind: kind, tag: tag, logicalLength: bytes.count,
                                  payloadLength: payloadCount, id: id, base: baseID)
        let tmp = try temporaryPath(id.hex)
        do {
            let h = try FileHandle.open(tmp, flags: O_WRONLY | O_CREAT | O_EXCL, mode: 0o444)
            try h.writeAll(header.encoded())
            if let payloadOwner { try h.writeAll(payloadOwner) } else { try h.writeAll(bytes) }
            try h.sync()
        }
        let dir = objectDirectory(id)
        if !(try Posix.isRealDirectory(dir)) {
            try Posix.makeDirectory(dir)
            try Posix.syncDirectory(root + "/objects")
        }
        let linked: Bool
        if chosen.isDelta {
            // gc holds the store lock exclusively while it marks and sweeps: under the shared lock
            // the base is either gone (then this is a full copy after all) or refreshed and kept.
            guard let l = try withSharedLock({ () -> Bool? in
                guard Posix.fileExists(objectPath(baseID)) else { return nil }
                Posix.touch(objectPath(baseID))
                return try Posix.linkNoReplace(tmp, path)
            }) else {
                try Posix.unlinkIfExists(tmp)
                return try put(bytes, id: id, kind: kind, tag: tag, codec: codec, base: nil)
            }
            linked = l
        } else {
            linked = try Posix.linkNoReplace(tmp, path)
        }
        if !linked {
            // Another writer stored it first: keep theirs, made young under the shared lock as a
            // reuse is (gc may have marked it unreachable before our link attempt).
            let kept = try withSharedLock { () -> Bool in
                guard Posix.fileExists(path) else { return false }
                Posix.touch(path)
                return true
            }
            if !kept {
                try Posix.unlinkIfExists(tmp)
                return try put(bytes, id: id, kind: kind, tag: tag, codec: codec, base: base)
            }
        }
        try Posix.unlinkIfExists(tmp)
        if linked { try Posix.syncDirectory(dir) }
        var result = PutResult(id: id, codec: chosen, written: linked)
        result.base = chosen.isDelta ? baseID : nil
        result.payloadBytes = linked ? payloadCount : 0
        return result
    }

    // MARK: reading objects

    public func contains(_ id: ObjectID) -> Bool {
        Posix.fileExists(objectPath(id))
    }

    /// The checked header of an object (reads 64 bytes).
    public func header(_ id: ObjectID) throws -> ObjectHeader { try header(id, following: 0).header }

    /// The header and the first `following` payload bytes after it (fewer when the file is
    /// shorter), through one open of the object's file.
    func header(_ id: ObjectID, following: Int) throws -> (header: ObjectHeader, payload: ArraySlice<UInt8>) {
        let path = objectPath(id)
        guard let h = try FileHandle.openIfExists(path, flags: O_RDONLY | O_NOFOLLOW) else { throw StoreError.missingObject(id, neededBy: nil) }
        let size = try h.size()
        let raw = try h.pread(count: ObjectHeader.size + following, at: 0)
        let header = try raw.withUnsafeBytes {
            try ObjectHeader.parse(UnsafeRawBufferPointer(rebasing: $0.prefix(ObjectHeader.size)), expectedID: id, fileLength: size, path: path)
        }
        return (header, raw.dropFirst(ObjectHeader.size))
    }

    /// The logical bytes of an object. `raw` objects are memory-mapped and lent in place; others are
    /// decoded into owned memory (decoded grouped objects, `shuffle-lz4` and the deltas, are kept in a small
    /// per-process cache). With `verify`, the bytes are re-hashed and must match the id; decoded
    /// objects are always hashed.
    public func read(_ id: ObjectID, verify: Bool = true) throws -> ObjectBytes {
        try load(id, verify: verify, useCache: true).bytes
    }

    /// A manifest object parsed as JSON.
    public func readJSON(_ id: ObjectID) throws -> JSONValue {
        let bytes = try read(id, verify: true)
        do {
            return try bytes.withUnsafeBytes { try JSONValue(parsing: $0) }
        } catch {
            throw StoreError.corruptObject(id, path: objectPath(id), reason: "manifest is not valid JSON: \(error)")
        }
    }

    /// Every object id in the store, sorted.
    public func allObjectIDs() throws -> [ObjectID] {
        var ids: [ObjectID] = []
        for fan in try Posix.listDirectory(root + "/objects") where fan.count == 2 && isHex(fan) {
            for name in try Posix.listDirectory(root + "/objects/" + fan) {
                if let id = ObjectID(hex: name), name.hasPrefix(fan) { ids.append(id) }
            }
        }
        return ids.sorted()
    }

    /// Ids starting with `prefix` (at least 2 hex digits).
    public func objectIDs(withPrefix prefix: String) throws -> [ObjectID] {
        let p = prefix.lowercased()
        guard p.count >= 2, isHex(p) else { return [] }
        let fan = String(p.prefix(2))
        return try Posix.listDirectory(root + "/objects/" + fan).compactMap { name in
            name.hasPrefix(p) ? ObjectID(hex: name) : nil
        }.sorted()
    }

    // MARK: statistics

    /// Objects, logical bytes (decoded) and bytes on disk (the files, headers included).
    public struct Usage: Sendable, Equatable {
        public var objects = 0
        public var logicalBytes = 0
        public var diskBytes = 0
        /// 1 − disk / logical (0 for nothing).
        public var saving: Double { logicalBytes > 0 ? 1 - Double(diskBytes) / Double(logicalBytes) : 0 }

        mutating func add(logical: Int, disk: Int) {
            objects += 1
            logicalBytes += logical
            diskBytes += disk
        }
    }

    public struct Stats: Sendable {
        public var objects = 0
        public var logicalBytes = 0
        public var diskBytes = 0
        public var byCodec: [String: Int] = [:]
        public var byKind: [String: Int] = [:]
        /// Usage of each codec's objects.
        public var codecUsage: [String: Usage] = [:]
        /// Usage of the objects of each tensor-set role: the output names of journaled stages
        /// ("theta", "theta_hat", "theta_optimizer", "lora", …). An object in two roles counts in both.
        public var roleUsage: [String: Usage] = [:]
        public var unreadable: [ObjectID] = []
    }

    public func stats() throws -> Stats {
        var s = Stats()
        for c in Codec.allCases { s.byCodec[c.name] = 0; s.codecUsage[c.name] = Usage() }
        var sizes: [ObjectID: (logical: Int, disk: Int)] = [:]
        for id in try allObjectIDs() {
            s.objects += 1
            let disk = Posix.status(objectPath(id))?.size ?? 0
            s.diskBytes += disk
            guard let h = try? header(id) else { s.unreadable.append(id); continue }
            s.logicalBytes += h.logicalLength
            s.byCodec[h.codec.name, default: 0] += 1
            s.byKind[h.kind.name, default: 0] += 1
            s.codecUsage[h.codec.name, default: Usage()].add(logical: h.logicalLength, disk: disk)
            sizes[id] = (h.logicalLength, disk)
        }
        var members: [String: Set<ObjectID>] = [:]
        for run in try journalRuns() {
            for line in try readJournal(run: run) {
                guard let outputs = line["outputs"]?.objectValue else { continue }
                for (role, v) in outputs {
                    guard let sid = v.stringValue.flatMap(ObjectID.init(hex:)), sizes[sid] != nil else { continue }
                    members[role, default: []].insert(sid)
                    guard let json = try? readJSON(sid) else { continue }
                    for child in Store.dataIDs(in: json) where sizes[child] != nil { members[role, default: []].insert(child) }
                }
            }
        }
        for (role, ids) in members {
            var u = Usage()
            for id in ids { u.add(logical: sizes[id]!.logical, disk: sizes[id]!.disk) }
            s.roleUsage[role] = u
        }
        return s
    }

    /// Ids under "id" keys of a manifest, outside "metadata" and "parent".
    static func dataIDs(in v: JSONValue) -> [ObjectID] {
        switch v {
        case let .object(o):
            var out = o["id"]?.stringValue.flatMap(ObjectID.init(hex:)).map { [$0] } ?? []
            for (k, x) in o where k != "metadata" && k != "parent" && k != "id" { out += dataIDs(in: x) }
            return out
        case let .array(a): return a.flatMap(dataIDs(in:))
        default: return []
        }
    }
}

extension Store {
    /// The id a file's bytes would have as a blob (a stage input digest); nothing is stored.
    public func fileDigest(path: String) throws -> ObjectID {
        let map = try MappedFile(path: path)
        return map.withUnsafeBytes { ObjectHasher.id(of: $0, kind: .blob) }
    }
}

extension Store {
    /// Streams an object's logical bytes to `sink` in blocks of up to 1 MiB, read with pread into a
    /// reused buffer (no memory map, so no page-table work for large objects), hashing as it goes.
    /// With `verify` the id is checked after the last block: a mismatch throws `corruptObject`
    /// (the sink has then seen bad bytes, so callers write to a temporary they discard on error).
    public func stream(_ id: ObjectID, verify: Bool = true, to sink: (UnsafeRawBufferPointer) throws -> Void) throws {
        let path = objectPath(id)
        guard let h = try FileHandle.openIfExists(path, flags: O_RDONLY | O_NOFOLLOW) else { throw StoreError.missingObject(id, neededBy: nil) }
        let size = try h.size()
        let header = try h.pread(count: ObjectHeader.size, at: 0).withUnsafeBytes {
            try ObjectHeader.parse($0, expectedID: id, fileLength: size, path: path)
        }
        guard header.codec == .raw else {
            // Compressed objects are small or decoded whole anyway.
            try read(id, verify: verify).withUnsafeBytes { try sink($0) }
            return
        }
        var hasher = ObjectHasher(kind: header.kind, tag: header.tag, length: header.logicalLength)
        let blockSize = 1 << 20
        let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: blockSize, alignment: 4096)
        defer { buffer.deallocate() }
        var done = 0
        while done < header.logicalLength {
            let want = min(blockSize, header.logicalLength - done)
            let got = try h.pread(into: UnsafeMutableRawBufferPointer(rebasing: buffer[0..<want]), at: ObjectHeader.size + done)
            guard got == want else { throw StoreError.corruptObject(id, path: path, reason: "file ends early") }
            let block = UnsafeRawBufferPointer(rebasing: buffer[0..<want])
            if verify { hasher.update(block) }
            try sink(block)
            done += want
        }
        if verify {
            let actual = hasher.finalize()
            guard actual == id else { throw StoreError.corruptObject(id, path: path, reason: "content hashes to \(actual)") }
        }
    }
}
