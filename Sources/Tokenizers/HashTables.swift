// Open-addressing hash tables for the encode hot path, keyed without allocating:
// ByteKeyTable maps byte strings (stored in one arena) to a UInt64; PairTable maps a pair of
// token ids to a UInt64. Both use linear probing and grow at 50% load.

@inline(__always)
func mixHash(_ x: UInt64) -> UInt64 {
    var z = x &+ 0x9E37_79B9_7F4A_7C15
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
}

/// A 64-bit hash of a byte string, reading 8 bytes at a time.
@inline(__always)
func hashBytes(_ p: UnsafeRawBufferPointer) -> UInt64 {
    var h: UInt64 = UInt64(truncatingIfNeeded: p.count) &* 0x9E37_79B9_7F4A_7C15
    var i = 0
    let n = p.count
    while i + 8 <= n {
        h = mixHash(h ^ p.loadUnaligned(fromByteOffset: i, as: UInt64.self))
        i += 8
    }
    if i < n {
        var tail: UInt64 = 0
        var shift: UInt64 = 0
        while i < n {
            tail |= UInt64(p[i]) << shift
            shift += 8
            i += 1
        }
        h = mixHash(h ^ tail)
    }
    return h
}

struct ByteKeyTable: Sendable {
    private struct Slot: Sendable {
        var hash: UInt64 = 0
        var offset: UInt32 = 0
        var length: UInt32 = UInt32.max  // UInt32.max marks an empty slot
        var value: UInt64 = 0
    }

    private var slots: [Slot]
    private var keys: [UInt8] = []
    private(set) var count = 0

    init(capacity: Int = 16) {
        var size = 16
        while size < capacity * 2 { size <<= 1 }
        slots = [Slot](repeating: Slot(), count: size)
    }

    func find(_ key: UnsafeRawBufferPointer) -> UInt64? {
        find(key, hash: hashBytes(key))
    }

    func find(_ key: UnsafeRawBufferPointer, hash: UInt64) -> UInt64? {
        slots.withUnsafeBufferPointer { slots in
            keys.withUnsafeBytes { arena in
                let mask = slots.count - 1
                var i = Int(truncatingIfNeeded: hash) & mask
                while true {
                    let s = slots[i]
                    if s.length == UInt32.max { return nil }
                    if s.hash == hash && Int(s.length) == key.count
                        && (key.count == 0
                            || memcmpEqual(arena.baseAddress! + Int(s.offset), key.baseAddress!, key.count))
                    {
                        return s.value
                    }
                    i = (i + 1) & mask
                }
            }
        }
    }

    /// Inserts or replaces.
    mutating func insert(_ key: UnsafeRawBufferPointer, value: UInt64) {
        insert(key, hash: hashBytes(key), value: value)
    }

    mutating func insert(_ key: UnsafeRawBufferPointer, hash: UInt64, value: UInt64) {
        if (count + 1) * 2 > slots.count { grow() }
        let mask = slots.count - 1
        var i = Int(truncatingIfNeeded: hash) & mask
        while slots[i].length != UInt32.max {
            let s = slots[i]
            if s.hash == hash && Int(s.length) == key.count {
                let same = keys.withUnsafeBytes { arena in
                    key.count == 0 || memcmpEqual(arena.baseAddress! + Int(s.offset), key.baseAddress!, key.count)
                }
                if same {
                    slots[i].value = value
                    return
                }
            }
            i = (i + 1) & mask
        }
        let offset = UInt32(keys.count)
        keys.append(contentsOf: key)
        slots[i] = Slot(hash: hash, offset: offset, length: UInt32(key.count), value: value)
        count += 1
    }

    mutating func removeAll() {
        for i in slots.indices { slots[i].length = UInt32.max }
        keys.removeAll(keepingCapacity: true)
        count = 0
    }

    private mutating func grow() {
        let old = slots
        slots = [Slot](repeating: Slot(), count: old.count * 2)
        let mask = slots.count - 1
        for s in old where s.length != UInt32.max {
            var i = Int(truncatingIfNeeded: s.hash) & mask
            while slots[i].length != UInt32.max { i = (i + 1) & mask }
            slots[i] = s
        }
    }
}

@inline(__always)
private func memcmpEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ n: Int) -> Bool {
    var i = 0
    while i + 8 <= n {
        if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
            return false
        }
        i += 8
    }
    while i < n {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i += 1
    }
    return true
}

/// (left id, right id) → UInt64, for BPE merges (value: rank << 32 | merged id).
struct PairTable: Sendable {
    private var keys: [UInt64]
    private var values: [UInt64]
    private var shift: UInt64
    private(set) var count = 0
    private static let empty = UInt64.max

    init(capacity: Int) {
        var size = 16, bits: UInt64 = 4
        while size < capacity * 2 { size <<= 1; bits += 1 }
        keys = [UInt64](repeating: PairTable.empty, count: size)
        values = [UInt64](repeating: 0, count: size)
        shift = 64 - bits
    }

    @inline(__always)
    static func key(_ a: UInt32, _ b: UInt32) -> UInt64 { UInt64(a) << 32 | UInt64(b) }

    @inline(__always)
    func find(_ a: UInt32, _ b: UInt32) -> UInt64? {
        let k = PairTable.key(a, b)
        return keys.withUnsafeBufferPointer { keys in
            let mask = keys.count - 1
            var i = Int((k &* 0x9E37_79B9_7F4A_7C15) >> shift)
            while true {
                let x = keys[i]
                if x == k { return values.withUnsafeBufferPointer { $0[i] } }
                if x == PairTable.empty { return nil }
                i = (i + 1) & mask
            }
        }
    }

    /// Inserts or replaces (a later duplicate merge wins, as in `tokenizers`).
    mutating func insert(_ a: UInt32, _ b: UInt32, value: UInt64) {
        precondition(count * 2 < keys.count, "PairTable sized too small")
        let k = PairTable.key(a, b)
        let mask = keys.count - 1
        var i = Int((k &* 0x9E37_79B9_7F4A_7C15) >> shift)
        while keys[i] != PairTable.empty && keys[i] != k { i = (i + 1) & mask }
        if keys[i] == PairTable.empty { count += 1 }
        keys[i] = k
        values[i] = value
    }
}
