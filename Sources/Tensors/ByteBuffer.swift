// Contiguous bytes behind a tensor: either owned (heap, 64-byte aligned, zeroed) or borrowed from
// an owner that keeps them alive (a memory-mapped store object). Bytes are lent inside closures;
// no pointer outlives the buffer.

public final class ByteBuffer: @unchecked Sendable {
    public let count: Int
    public let isMutable: Bool
    private let base: UnsafeMutableRawPointer?
    private let owner: AnyObject?
    private let ownsMemory: Bool

    /// Owned, zero-filled, 64-byte-aligned memory.
    public init(zeroedCount count: Int) {
        precondition(count >= 0, "negative byte count")
        self.count = count
        self.isMutable = true
        self.owner = nil
        self.ownsMemory = true
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
        self.base = p
    }

    /// Owned copy of `bytes`.
    public convenience init(copying bytes: UnsafeRawBufferPointer) {
        self.init(zeroedCount: bytes.count)
        if bytes.count > 0 { base!.copyMemory(from: bytes.baseAddress!, byteCount: bytes.count) }
    }

    public convenience init(copying bytes: [UInt8]) {
        self.init(zeroedCount: bytes.count)
        bytes.withUnsafeBytes { src in
            if src.count > 0 { base!.copyMemory(from: src.baseAddress!, byteCount: src.count) }
        }
    }

    /// Read-only bytes owned by `owner` (e.g. a memory map); `owner` is retained for the buffer's life.
    public init(borrowing bytes: UnsafeRawBufferPointer, owner: AnyObject) {
        self.count = bytes.count
        self.isMutable = false
        self.base = bytes.baseAddress.map { UnsafeMutableRawPointer(mutating: $0) }
        self.owner = owner
        self.ownsMemory = false
    }

    deinit {
        if ownsMemory { base?.deallocate() }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) {
            try body(UnsafeRawBufferPointer(start: count == 0 ? nil : base, count: count))
        }
    }

    public func withUnsafeMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        precondition(isMutable, "write to a read-only (borrowed) buffer")
        return try body(UnsafeMutableRawBufferPointer(start: count == 0 ? nil : base, count: count))
    }
}
