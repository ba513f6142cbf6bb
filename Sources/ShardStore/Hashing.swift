// Object ids: XXH3-128 over a typed 16-byte prefix and the object's logical (uncompressed) bytes,
// written as 32 lowercase hex digits (xxHash's canonical big-endian form).
//
//   prefix = "brg1" | kind u8 | tag u8 (dtype code for tensors) | 2 zero bytes | logical length u64 LE

import CXXHash

public struct ObjectID: Hashable, Comparable, Sendable, CustomStringConvertible, Codable {
    public let high: UInt64
    public let low: UInt64

    public init(high: UInt64, low: UInt64) {
        self.high = high
        self.low = low
    }

    /// Parses exactly 32 hex digits (either case).
    public init?(hex: String) {
        let utf8 = Array(hex.utf8)
        guard utf8.count == 32 else { return nil }
        var words: [UInt64] = [0, 0]
        for (i, c) in utf8.enumerated() {
            guard let v = hexValue(c) else { return nil }
            words[i / 16] = words[i / 16] << 4 | UInt64(v)
        }
        high = words[0]
        low = words[1]
    }

    /// 16 bytes, big-endian high word first.
    public init?(bytes: some Collection<UInt8>) {
        guard bytes.count == 16 else { return nil }
        var h: UInt64 = 0, l: UInt64 = 0
        for (i, b) in bytes.enumerated() {
            if i < 8 { h = h << 8 | UInt64(b) } else { l = l << 8 | UInt64(b) }
        }
        high = h
        low = l
    }

    public var bytes: [UInt8] {
        (0..<8).map { UInt8(truncatingIfNeeded: high >> (56 - 8 * $0)) }
            + (0..<8).map { UInt8(truncatingIfNeeded: low >> (56 - 8 * $0)) }
    }

    public var hex: String {
        let digits = Array("0123456789abcdef".utf8)
        var out = [UInt8](repeating: 0, count: 32)
        for i in 0..<16 { out[i] = digits[Int((high >> (60 - 4 * UInt64(i))) & 0xF)] }
        for i in 0..<16 { out[16 + i] = digits[Int((low >> (60 - 4 * UInt64(i))) & 0xF)] }
        return String(decoding: out, as: UTF8.self)
    }

    public var description: String { hex }
    public var isZero: Bool { high == 0 && low == 0 }
    public static let zero = ObjectID(high: 0, low: 0)

    public static func < (a: ObjectID, b: ObjectID) -> Bool {
        (a.high, a.low) < (b.high, b.low)
    }

    public init(from decoder: Decoder) throws {
        let s = try decoder.singleValueContainer().decode(String.self)
        guard let id = ObjectID(hex: s) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath, debugDescription: "not an object id: '\(s)'"))
        }
        self = id
    }

    public func encode(to encoder: Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(hex)
    }
}

/// True for a string of hex digits (any length).
public func isHex(_ s: String) -> Bool {
    !s.isEmpty && s.utf8.allSatisfy { hexValue($0) != nil }
}

/// What an object holds; part of its id, so equal bytes of different kinds are different objects.
public enum ObjectKind: UInt8, Sendable, CaseIterable, Codable {
    /// Opaque bytes (a tokenizer.json, a dataset file).
    case blob = 1
    /// Tensor data; the tag is the dtype code.
    case tensor = 2
    /// A JSON manifest; every object it depends on is named by an "id" key (see schemas/).
    case manifest = 3

    public var name: String {
        switch self {
        case .blob: "blob"
        case .tensor: "tensor"
        case .manifest: "manifest"
        }
    }
}

/// Incremental XXH3-128 of a typed object.
public struct ObjectHasher: ~Copyable {
    private let state: OpaquePointer

    public init(kind: ObjectKind, tag: UInt8, length: Int) {
        state = XXH3_createState()
        XXH3_128bits_reset(state)
        var prefix: [UInt8] = Array("brg1".utf8) + [kind.rawValue, tag, 0, 0]
        for i in 0..<8 { prefix.append(UInt8(truncatingIfNeeded: UInt64(length) >> (8 * UInt64(i)))) }
        prefix.withUnsafeBytes { _ = XXH3_128bits_update(state, $0.baseAddress, $0.count) }
    }

    public mutating func update(_ bytes: UnsafeRawBufferPointer) {
        guard bytes.count > 0 else { return }
        XXH3_128bits_update(state, bytes.baseAddress, bytes.count)
    }

    public consuming func finalize() -> ObjectID {
        let h = XXH3_128bits_digest(state)
        return ObjectID(high: h.high64, low: h.low64)
    }

    deinit { XXH3_freeState(state) }

    /// The id of `bytes` as an object of the given kind.
    public static func id(of bytes: UnsafeRawBufferPointer, kind: ObjectKind, tag: UInt8 = 0) -> ObjectID {
        var h = ObjectHasher(kind: kind, tag: tag, length: bytes.count)
        h.update(bytes)
        return h.finalize()
    }

    public static func id(of bytes: [UInt8], kind: ObjectKind, tag: UInt8 = 0) -> ObjectID {
        bytes.withUnsafeBytes { id(of: $0, kind: kind, tag: tag) }
    }
}

/// An `ObjectHasher` behind a reference, for decoders that hash each block as they write it
/// (while it is still in cache) from inside a closure.
final class SharedObjectHasher {
    private var hasher: ObjectHasher?

    init(kind: ObjectKind, tag: UInt8, length: Int) { hasher = ObjectHasher(kind: kind, tag: tag, length: length) }

    func update(_ bytes: UnsafeRawBufferPointer) { hasher!.update(bytes) }

    func finalize() -> ObjectID {
        let h = hasher.take()!
        return h.finalize()
    }
}

/// Plain XXH3-64 of bytes (for stage keys and checksums that are not object ids).
public func xxh3_64(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
    XXH3_64bits(bytes.baseAddress, bytes.count)
}
