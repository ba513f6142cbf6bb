// The object file format (schemas/object-file.md has the same table).
//
//   offset size  field
//        0    8  magic "BRGOBJ\0\1"
//        8    2  format version (u16 LE) = 1
//       10    1  codec: 0 raw, 1 lz4, 2 shuffle-lz4, 3 delta-xor, 4 delta-sub (GroupedCodecs.swift)
//       11    1  kind (ObjectKind)
//       12    1  tag (dtype code for tensors, else 0)
//       13    3  reserved, zero
//       16    8  logical length (u64 LE): bytes after decoding, the bytes the id hashes
//       24    8  payload length (u64 LE): bytes stored after the header
//       32   16  object id (big-endian XXH3-128)
//       48   16  base object id for delta codecs, zero otherwise
//       64    …  payload (64-byte aligned; for raw the logical bytes themselves)
//
// The file is exactly 64 + payload length bytes. A reader checks every field against the file
// and its name and never trusts the header.

public enum Codec: UInt8, Sendable, CaseIterable {
    case raw = 0
    case lz4 = 1
    /// Byte-grouped LZ4 (every element's first byte, then every second byte, …; the top planes
    /// possibly split into bit planes).
    case shuffleLZ4 = 2
    /// XOR against the base object named in the header, grouped, LZ4.
    case deltaXOR = 3
    /// The zigzag-coded integer difference from the base object named in the header, grouped, LZ4.
    case deltaSub = 4

    /// A delta against a base object: decoded through its base, and the base is kept alive.
    public var isDelta: Bool { self == .deltaXOR || self == .deltaSub }
    /// A grouped payload (GroupedCodecs.swift).
    public var isGrouped: Bool { self == .shuffleLZ4 || isDelta }
    /// How a delta combines with its base.
    var deltaOp: DeltaOp { self == .deltaSub ? .sub : .xor }

    public var name: String {
        switch self {
        case .raw: "raw"
        case .lz4: "lz4"
        case .shuffleLZ4: "shuffle-lz4"
        case .deltaXOR: "delta-xor"
        case .deltaSub: "delta-sub"
        }
    }

    public init?(name: String) {
        guard let c = Codec.allCases.first(where: { $0.name == name }) else { return nil }
        self = c
    }
}

public struct ObjectHeader: Equatable, Sendable {
    public static let size = 64
    static let magic: [UInt8] = Array("BRGOBJ".utf8) + [0, 1]
    static let version: UInt16 = 1

    public var codec: Codec
    public var kind: ObjectKind
    public var tag: UInt8
    public var logicalLength: Int
    public var payloadLength: Int
    public var id: ObjectID
    public var base: ObjectID

    public var fileLength: Int { ObjectHeader.size + payloadLength }

    func encoded() -> [UInt8] {
        var b = ObjectHeader.magic
        b += [UInt8(truncatingIfNeeded: ObjectHeader.version), UInt8(truncatingIfNeeded: ObjectHeader.version >> 8)]
        b += [codec.rawValue, kind.rawValue, tag, 0, 0, 0]
        for v in [UInt64(logicalLength), UInt64(payloadLength)] {
            for i in 0..<8 { b.append(UInt8(truncatingIfNeeded: v >> (8 * UInt64(i)))) }
        }
        b += id.bytes
        b += base.bytes
        assert(b.count == ObjectHeader.size)
        return b
    }

    /// Parses and checks a header against what the reader knows: the id from the file name and
    /// the file's size. `reason` in the thrown error says which field lied.
    static func parse(_ raw: UnsafeRawBufferPointer, expectedID: ObjectID, fileLength: Int, path: String) throws -> ObjectHeader {
        func corrupt(_ why: String) -> StoreError { .corruptObject(expectedID, path: path, reason: why) }
        guard raw.count >= size, fileLength >= size else { throw corrupt("file is \(fileLength) bytes, shorter than the 64-byte header") }
        guard Array(raw[0..<8]) == magic else { throw corrupt("bad magic") }
        let version = UInt16(raw[8]) | UInt16(raw[9]) << 8
        guard version == ObjectHeader.version else { throw corrupt("unknown object format version \(version)") }
        guard let codec = Codec(rawValue: raw[10]) else { throw corrupt("unknown codec \(raw[10])") }
        guard let kind = ObjectKind(rawValue: raw[11]) else { throw corrupt("unknown kind \(raw[11])") }
        guard raw[13] == 0, raw[14] == 0, raw[15] == 0 else { throw corrupt("reserved header bytes are not zero") }
        let logical = loadLE64(raw, 16)
        let payload = loadLE64(raw, 24)
        guard payload <= UInt64(Int.max - size), Int(payload) + size == fileLength else {
            throw corrupt("header says \(payload) payload bytes but the file holds \(fileLength - size)")
        }
        guard logical <= UInt64(Int.max) else { throw corrupt("absurd logical length \(logical)") }
        if codec == .raw, logical != payload { throw corrupt("raw object with logical length \(logical) != payload length \(payload)") }
        // LZ4 expands at most ~255:1; a larger claim is a lie (and must not drive an allocation).
        if codec != .raw, logical / 255 > payload { throw corrupt("\(codec.name) object claims \(logical) logical bytes from \(payload) stored") }
        guard let id = ObjectID(bytes: raw[32..<48]), let base = ObjectID(bytes: raw[48..<64]) else { throw corrupt("unreadable id") }
        guard id == expectedID else { throw corrupt("header names object \(id), not the id in its file name") }
        if codec.isDelta {
            guard !base.isZero else { throw corrupt("\(codec.name) object names no base object") }
            guard base != id else { throw corrupt("\(codec.name) object names itself as its base") }
        } else {
            guard base.isZero else { throw corrupt("codec \(codec.name) takes no base object, but the header names one") }
        }
        return ObjectHeader(codec: codec, kind: kind, tag: raw[12], logicalLength: Int(logical),
                            payloadLength: Int(payload), id: id, base: base)
    }
}
