// A read-only memory map of a whole file. The mapping lives as long as this object; bytes are
// lent inside closures only.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let count: Int
    private let base: UnsafeMutableRawPointer?

    /// With `populate`, the kernel maps every page up front (one call instead of a fault per 4 KiB
    /// page), which pays off when the whole file will be read.
    public init(path: String, populate: Bool = false) throws {
        let h = try FileHandle.open(path, flags: O_RDONLY | O_NOFOLLOW)
        self.path = path
        count = try h.size()
        if count == 0 {
            base = nil
            return
        }
        #if os(Linux)
        let flags = MAP_PRIVATE | (populate ? MAP_POPULATE : 0)
        #else
        let flags = MAP_PRIVATE
        #endif
        let p = mmap(nil, count, PROT_READ, flags, h.fd, 0)
        guard let p, p != MAP_FAILED else { throw IOError(operation: "mmap", path: path, errno: errno) }
        base = p
    }

    deinit {
        if let base { munmap(base, count) }
    }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeRawBufferPointer(start: base, count: count))
    }

    /// Advises the kernel that the whole file will be read soon, sequentially.
    public func adviseSequential() {
        if let base { _ = madvise(base, count, MADV_SEQUENTIAL | MADV_WILLNEED) }
    }
}

/// The logical bytes of an object: a window into a memory map (raw codec, zero-copy) or owned,
/// decoded memory (other codecs).
public final class ObjectBytes: @unchecked Sendable {
    public let count: Int
    private let map: MappedFile?
    private let offset: Int
    private let owned: UnsafeMutableRawBufferPointer?

    init(map: MappedFile, offset: Int, count: Int) {
        self.map = map
        self.offset = offset
        self.count = count
        self.owned = nil
        self.ownedIsMapped = false
    }

    /// Owned memory for decoded bytes. From 1 MiB up it is an anonymous mapping populated in one
    /// call (a decoder writes every byte; a page fault per 4 KiB costs as much as decoding them).
    init(ownedCount count: Int) {
        self.map = nil
        self.offset = 0
        self.count = count
        #if os(Linux)
        if count >= ObjectBytes.mappedOwnedThreshold,
           let p = mmap(nil, count, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0), p != MAP_FAILED {
            self.owned = UnsafeMutableRawBufferPointer(start: p, count: count)
            self.ownedIsMapped = true
            return
        }
        #endif
        self.owned = UnsafeMutableRawBufferPointer.allocate(byteCount: max(count, 1), alignment: 64)
        self.ownedIsMapped = false
    }

    static let mappedOwnedThreshold = 1 << 20
    private let ownedIsMapped: Bool

    deinit {
        if ownedIsMapped, let owned { munmap(owned.baseAddress, owned.count) } else { owned?.deallocate() }
    }

    /// True when the bytes are the store's file, mapped in place.
    public var isMapped: Bool { map != nil }

    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        if let map {
            return try map.withUnsafeBytes { all in
                try body(UnsafeRawBufferPointer(rebasing: all[offset..<(offset + count)]))
            }
        }
        return try body(UnsafeRawBufferPointer(start: owned!.baseAddress, count: count))
    }

    func withOwnedMutableBytes<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        try body(UnsafeMutableRawBufferPointer(start: owned!.baseAddress, count: count))
    }

    public var array: [UInt8] { withUnsafeBytes { Array($0) } }
}
