// The grouped codecs: `shuffle-lz4` (codec 2), `delta-xor` (codec 3) and `delta-sub` (codec 4).
// Within each 4 MiB block of logical bytes, the n elements of width W are regrouped plane by
// plane — every element's byte 0, then every byte 1, …, byte W−1 (HF Xet's bg4) — and the top
// `bitPlanes` byte planes are each split further into their 8 bit planes (bit 0 of every byte of
// the plane, then bit 1, …; the last n mod 8 bytes of the plane stay whole); then the block is
// LZ4-compressed. LZ4 has no entropy coder: it shrinks only runs and repeats, so a float's
// exponent byte (a few bits of information in 8) is nearly incompressible as bytes, while its bit
// planes are long runs of equal bits. The deltas first combine each element with the base
// object's: `delta-xor` XORs the bit patterns; `delta-sub` takes the difference of the bit
// patterns as W-byte integers (wrapping), zigzag-coded (0, −1, 1, −2, … → 0, 1, 2, 3, …), so
// that a weight that moved by k units in the last place becomes a number near 2k whatever
// carries the move caused — XOR turns a carry into a run of changed bits. schemas/object-file.md:
//
//   payload = width u8 | chain depth u8 | bit planes u8 | 5 zero bytes | lz4 payload (LZ4.swift) of grouped blocks
//
// The width is the dtype's size for tensors (1 for other kinds); the depth is 0 for shuffle-lz4
// and the base's depth + 1 for the deltas (a full copy has depth 0), so chains are bounded and
// cannot loop: a reader checks both against what it knows. Bit planes is 0...width (0: byte
// planes only, the layout of the first release).

import Tensors

/// How a delta combines an element with its base's.
enum DeltaOp: Sendable {
    /// The bit patterns XORed.
    case xor
    /// The difference of the bit patterns as unsigned integers of the element's width, zigzag-coded.
    case sub
}

/// The shape of a grouped payload: element width, how many of the top byte planes are split into
/// bit planes, and (for deltas) how elements combine with the base.
struct GroupedLayout: Equatable {
    var width: Int
    var bitPlanes: Int = 0
    var op: DeltaOp = .xor
}

enum GroupedCodec {
    static let prefixSize = 8
    /// The format's bound on a delta chain (the store's configured bound is lower).
    static let maxDepth = 255

    /// Element width for byte grouping: the dtype's size for tensors, 1 otherwise.
    static func width(kind: ObjectKind, tag: UInt8) -> Int {
        guard kind == .tensor, let d = DType(code: tag) else { return 1 }
        return d.size
    }

    /// The layout a writer uses. Full copies split only the top byte plane (a float's sign and
    /// exponent: on fp32 weights, splitting more planes saved nothing more); deltas split all but
    /// the lowest (the differences of neighbouring steps are small integers: their high planes
    /// are runs of zeros, their low plane is noise; splitting it too saved 0.3%).
    static func writerLayout(width: Int, delta: Bool) -> GroupedLayout {
        let op = DeltaOp.sub  // what `delta-sub` means; unused for a full copy
        guard width > 1 else { return GroupedLayout(width: width, bitPlanes: 0, op: op) }
        return GroupedLayout(width: width, bitPlanes: delta ? width - 1 : 1, op: op)
    }

    /// The grouped payload of `input` (combined with `base` when given), or nil when it would not
    /// save `minSaving` of the logical bytes.
    static func encode(_ input: UnsafeRawBufferPointer, layout: GroupedLayout, base: UnsafeRawBufferPointer?, depth: Int,
                       minSaving: Double = 0) -> [UInt8]? {
        precondition(input.count % layout.width == 0 && (base == nil || base!.count == input.count) && depth <= maxDepth
                     && (0...layout.width).contains(layout.bitPlanes))
        guard var out = LZ4Codec.compress(input, minSaving: minSaving, reserve: prefixSize, transform: { offset, block, scratch in
            group(block, layout: layout, base: base.map { UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + block.count)]) }, into: scratch)
        }) else { return nil }
        out[0] = UInt8(layout.width)
        out[1] = UInt8(depth)
        out[2] = UInt8(layout.bitPlanes)
        return out
    }

    /// (width, depth, bit planes) from a grouped payload's prefix, checked against the expected width.
    static func parsePrefix(_ payload: UnsafeRawBufferPointer, logicalLength: Int, expectedWidth: Int) throws(LZ4Codec.DecodeError)
        -> (width: Int, depth: Int, bitPlanes: Int) {
        guard payload.count >= prefixSize else { throw .malformed("grouped payload shorter than its \(prefixSize)-byte prefix") }
        let width = Int(payload[0]), depth = Int(payload[1]), bitPlanes = Int(payload[2])
        guard payload[3..<8].allSatisfy({ $0 == 0 }) else { throw .malformed("reserved bytes of the grouped payload prefix are not zero") }
        guard width == expectedWidth else { throw .malformed("byte-group width \(width) is not the dtype's \(expectedWidth)") }
        guard bitPlanes <= width else { throw .malformed("\(bitPlanes) byte planes split into bits, but elements have \(width) bytes") }
        guard logicalLength % width == 0 else { throw .malformed("logical length \(logicalLength) is not a multiple of the width \(width)") }
        return (width, depth, bitPlanes)
    }

    /// Decodes a grouped payload (prefix already checked) into `output`, combining with `base`;
    /// each decoded block goes to `hasher` right after it is written, while it is still in cache.
    static func decode(_ payload: UnsafeRawBufferPointer, layout: GroupedLayout, base: UnsafeRawBufferPointer?,
                       into output: UnsafeMutableRawBufferPointer, hasher: SharedObjectHasher? = nil) throws(LZ4Codec.DecodeError) {
        precondition(base == nil || base!.count == output.count)
        do {
            try LZ4Codec.decompress(UnsafeRawBufferPointer(rebasing: payload[prefixSize...]), into: output) { offset, scratch, out in
                ungroup(UnsafeMutableRawBufferPointer(mutating: scratch), layout: layout,
                        base: base.map { UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + out.count)]) }, into: out)
                hasher?.update(UnsafeRawBufferPointer(out))
            }
        } catch let e as LZ4Codec.DecodeError { throw e } catch { throw .malformed("\(error)") }
    }

    // MARK: the transforms

    /// dst = the planes of (src combined with base).
    static func group(_ src: UnsafeRawBufferPointer, layout: GroupedLayout, base: UnsafeRawBufferPointer?, into dst: UnsafeMutableRawBufferPointer) {
        let op = layout.op
        switch layout.width {
        case 2: groupWords(src, UInt16.self, base: base, op: op, into: dst)
        case 4: groupWords(src, UInt32.self, base: base, op: op, into: dst)
        case 8: groupWords(src, UInt64.self, base: base, op: op, into: dst)
        default: groupBytes(src, width: layout.width, base: base, op: op, into: dst)
        }
        splitBitPlanes(dst, layout: layout)
    }

    /// dst = the elements of `planes`, combined back with base: the inverse of `group`. `planes` is
    /// scratch: its bit planes are merged back into byte planes in place.
    static func ungroup(_ planes: UnsafeMutableRawBufferPointer, layout: GroupedLayout, base: UnsafeRawBufferPointer?, into dst: UnsafeMutableRawBufferPointer) {
        mergeBitPlanes(planes, layout: layout)
        let op = layout.op, p = UnsafeRawBufferPointer(planes)
        switch layout.width {
        case 2: ungroupWords(p, UInt16.self, base: base, op: op, into: dst)
        case 4: ungroupWords(p, UInt32.self, base: base, op: op, into: dst)
        case 8: ungroupWords(p, UInt64.self, base: base, op: op, into: dst)
        default: ungroupBytes(p, width: layout.width, base: base, op: op, into: dst)
        }
    }

    // Bit planes. Eight bytes of a byte plane, read as one little-endian UInt64, are an 8×8 bit
    // matrix (row j = byte j); its transpose holds in byte b the bits b of the eight bytes, which
    // go to bit plane b. The transpose is its own inverse.

    @inline(__always)
    static func transpose8x8(_ v: UInt64) -> UInt64 {
        var x = v
        var t = (x ^ (x &>> 7)) & 0x00AA_00AA_00AA_00AA
        x = x ^ t ^ (t &<< 7)
        t = (x ^ (x &>> 14)) & 0x0000_CCCC_0000_CCCC
        x = x ^ t ^ (t &<< 14)
        t = (x ^ (x &>> 28)) & 0x0000_0000_F0F0_F0F0
        x = x ^ t ^ (t &<< 28)
        return x
    }

    /// Transposes the 8×8 byte matrix whose row r is the little-endian bytes of w[r].
    @inline(__always)
    static func transposeBytes8x8(_ w0: inout UInt64, _ w1: inout UInt64, _ w2: inout UInt64, _ w3: inout UInt64,
                                  _ w4: inout UInt64, _ w5: inout UInt64, _ w6: inout UInt64, _ w7: inout UInt64) {
        @inline(__always) func swap(_ a: inout UInt64, _ c: inout UInt64, _ shift: UInt64, _ mask: UInt64) {
            let t = ((a &>> shift) ^ c) & mask
            c ^= t
            a ^= t &<< shift
        }
        swap(&w0, &w4, 32, 0x0000_0000_FFFF_FFFF); swap(&w1, &w5, 32, 0x0000_0000_FFFF_FFFF)
        swap(&w2, &w6, 32, 0x0000_0000_FFFF_FFFF); swap(&w3, &w7, 32, 0x0000_0000_FFFF_FFFF)
        swap(&w0, &w2, 16, 0x0000_FFFF_0000_FFFF); swap(&w1, &w3, 16, 0x0000_FFFF_0000_FFFF)
        swap(&w4, &w6, 16, 0x0000_FFFF_0000_FFFF); swap(&w5, &w7, 16, 0x0000_FFFF_0000_FFFF)
        swap(&w0, &w1, 8, 0x00FF_00FF_00FF_00FF); swap(&w2, &w3, 8, 0x00FF_00FF_00FF_00FF)
        swap(&w4, &w5, 8, 0x00FF_00FF_00FF_00FF); swap(&w6, &w7, 8, 0x00FF_00FF_00FF_00FF)
    }

    /// Bit planes of `rows` × 8 bytes at `p`: byte c's bit b goes to bit (c mod 8) of byte c / 8 of
    /// row b (row b at t + b × rows). Eight columns at a time: eight bit transposes, then one 8×8
    /// byte transpose turns them into one 8-byte store per row.
    @inline(__always)
    static func splitRows(_ p: UnsafeRawPointer, rows: Int, into t: UnsafeMutableRawPointer) {
        @inline(__always) func x(_ c: Int) -> UInt64 { transpose8x8(UInt64(littleEndian: p.loadUnaligned(fromByteOffset: c &* 8, as: UInt64.self))) }
        var c = 0
        while c &+ 8 <= rows {
            var w0 = x(c), w1 = x(c &+ 1), w2 = x(c &+ 2), w3 = x(c &+ 3), w4 = x(c &+ 4), w5 = x(c &+ 5), w6 = x(c &+ 6), w7 = x(c &+ 7)
            transposeBytes8x8(&w0, &w1, &w2, &w3, &w4, &w5, &w6, &w7)
            t.storeBytes(of: w0.littleEndian, toByteOffset: c, as: UInt64.self)
            t.storeBytes(of: w1.littleEndian, toByteOffset: rows &+ c, as: UInt64.self)
            t.storeBytes(of: w2.littleEndian, toByteOffset: 2 &* rows &+ c, as: UInt64.self)
            t.storeBytes(of: w3.littleEndian, toByteOffset: 3 &* rows &+ c, as: UInt64.self)
            t.storeBytes(of: w4.littleEndian, toByteOffset: 4 &* rows &+ c, as: UInt64.self)
            t.storeBytes(of: w5.littleEndian, toByteOffset: 5 &* rows &+ c, as: UInt64.self)
            t.storeBytes(of: w6.littleEndian, toByteOffset: 6 &* rows &+ c, as: UInt64.self)
            t.storeBytes(of: w7.littleEndian, toByteOffset: 7 &* rows &+ c, as: UInt64.self)
            c &+= 8
        }
        let u = t.assumingMemoryBound(to: UInt8.self)
        while c < rows {
            let v = x(c)
            var b = 0
            while b < 8 { u[b &* rows &+ c] = UInt8(truncatingIfNeeded: v &>> (8 &* b)); b &+= 1 }
            c &+= 1
        }
    }

    /// The inverse of `splitRows`: bit rows at `p` (row b at p + b × rows) back to rows × 8 bytes at `t`.
    @inline(__always)
    static func mergeRows(_ p: UnsafeRawPointer, rows: Int, into t: UnsafeMutableRawPointer) {
        @inline(__always) func row(_ b: Int, _ c: Int) -> UInt64 { UInt64(littleEndian: p.loadUnaligned(fromByteOffset: b &* rows &+ c, as: UInt64.self)) }
        @inline(__always) func put(_ v: UInt64, _ c: Int) { t.storeBytes(of: transpose8x8(v).littleEndian, toByteOffset: c &* 8, as: UInt64.self) }
        var c = 0
        while c &+ 8 <= rows {
            var w0 = row(0, c), w1 = row(1, c), w2 = row(2, c), w3 = row(3, c), w4 = row(4, c), w5 = row(5, c), w6 = row(6, c), w7 = row(7, c)
            transposeBytes8x8(&w0, &w1, &w2, &w3, &w4, &w5, &w6, &w7)
            put(w0, c); put(w1, c &+ 1); put(w2, c &+ 2); put(w3, c &+ 3); put(w4, c &+ 4); put(w5, c &+ 5); put(w6, c &+ 6); put(w7, c &+ 7)
            c &+= 8
        }
        let u = p.assumingMemoryBound(to: UInt8.self)
        while c < rows {
            var v: UInt64 = 0
            var b = 0
            while b < 8 { v |= UInt64(u[b &* rows &+ c]) &<< (8 &* b); b &+= 1 }
            put(v, c)
            c &+= 1
        }
    }

    /// Rewrites the top `layout.bitPlanes` byte planes of a grouped block as bit planes.
    static func splitBitPlanes(_ block: UnsafeMutableRawBufferPointer, layout: GroupedLayout) {
        rewriteTopPlanes(block, layout: layout) { splitRows($0, rows: $1, into: $2) }
    }

    /// The inverse of `splitBitPlanes`, in place.
    static func mergeBitPlanes(_ block: UnsafeMutableRawBufferPointer, layout: GroupedLayout) {
        rewriteTopPlanes(block, layout: layout) { mergeRows($0, rows: $1, into: $2) }
    }

    /// Runs `rewrite(plane, rows, scratch)` on the first 8 × rows bytes of each of the top
    /// `layout.bitPlanes` byte planes (rows = n / 8; the plane's last n mod 8 bytes stay) and
    /// copies the scratch back over them.
    @inline(__always)
    static func rewriteTopPlanes(_ block: UnsafeMutableRawBufferPointer, layout: GroupedLayout,
                                 _ rewrite: (UnsafeRawPointer, Int, UnsafeMutableRawPointer) -> Void) {
        guard layout.bitPlanes > 0 else { return }
        let n = block.count / layout.width, rows = n / 8
        guard rows > 0 else { return }
        ScratchPool.shared.withBlock { tmp in
            for plane in (layout.width - layout.bitPlanes)..<layout.width {
                let p = block.baseAddress! + plane * n
                rewrite(p, rows, tmp.baseAddress!)
                p.copyMemory(from: tmp.baseAddress!, byteCount: rows * 8)
            }
        }
    }

    // Byte planes: tight loops with wrapping index arithmetic (no overflow traps) so that the
    // compiler vectorises them; measured at 4–12 GB/s per core for widths 2 and 4.

    @inline(__always)
    static func zigzag<W: FixedWidthInteger & UnsignedInteger>(_ d: W) -> W { (d &<< 1) ^ (0 &- (d &>> (W.bitWidth &- 1))) }
    @inline(__always)
    static func unzigzag<W: FixedWidthInteger & UnsignedInteger>(_ z: W) -> W { (z &>> 1) ^ (0 &- (z & 1)) }

    static func groupBytes(_ src: UnsafeRawBufferPointer, width: Int, base: UnsafeRawBufferPointer?, op: DeltaOp, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / width
        let s = src.baseAddress!.assumingMemoryBound(to: UInt8.self), d = dst.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let b = base?.baseAddress?.assumingMemoryBound(to: UInt8.self)
        if width == 1 {
            if let b {
                var i = 0
                if op == .xor { while i < n { d[i] = s[i] ^ b[i]; i &+= 1 } } else { while i < n { d[i] = zigzag(s[i] &- b[i]); i &+= 1 } }
            } else { dst.copyMemory(from: src) }
            return
        }
        precondition(b == nil || op == .xor, "delta-sub of elements wider than 1 byte goes through groupWords")
        var i = 0
        while i < n {
            var k = 0
            while k < width {
                d[k &* n &+ i] = s[i &* width &+ k] ^ (b?[i &* width &+ k] ?? 0)
                k &+= 1
            }
            i &+= 1
        }
    }

    static func ungroupBytes(_ planes: UnsafeRawBufferPointer, width: Int, base: UnsafeRawBufferPointer?, op: DeltaOp, into dst: UnsafeMutableRawBufferPointer) {
        let n = planes.count / width
        let p = planes.baseAddress!.assumingMemoryBound(to: UInt8.self), d = dst.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let b = base?.baseAddress?.assumingMemoryBound(to: UInt8.self)
        if width == 1 {
            if let b {
                var i = 0
                if op == .xor { while i < n { d[i] = p[i] ^ b[i]; i &+= 1 } } else { while i < n { d[i] = b[i] &+ unzigzag(p[i]); i &+= 1 } }
            } else { dst.copyMemory(from: planes) }
            return
        }
        precondition(b == nil || op == .xor, "delta-sub of elements wider than 1 byte goes through ungroupWords")
        var i = 0
        while i < n {
            var k = 0
            while k < width {
                d[i &* width &+ k] = p[k &* n &+ i] ^ (b?[i &* width &+ k] ?? 0)
                k &+= 1
            }
            i &+= 1
        }
    }

    @inline(__always)
    static func groupWords<W: FixedWidthInteger & UnsignedInteger>(_ src: UnsafeRawBufferPointer, _: W.Type, base: UnsafeRawBufferPointer?, op: DeltaOp,
                                                                   into dst: UnsafeMutableRawBufferPointer) {
        let size = MemoryLayout<W>.size, n = src.count / size
        let s = src.baseAddress!, d = dst.baseAddress!.assumingMemoryBound(to: UInt8.self)
        @inline(__always) func put(_ v: W, _ i: Int) {
            var k = 0
            while k < size { d[k &* n &+ i] = UInt8(truncatingIfNeeded: v &>> (8 &* k)); k &+= 1 }
        }
        @inline(__always) func load(_ p: UnsafeRawPointer, _ i: Int) -> W { W(littleEndian: p.loadUnaligned(fromByteOffset: i &* size, as: W.self)) }
        var i = 0
        if let b = base?.baseAddress {
            if op == .xor {
                while i < n { put(load(s, i) ^ load(b, i), i); i &+= 1 }
            } else {
                while i < n { put(zigzag(load(s, i) &- load(b, i)), i); i &+= 1 }
            }
        } else {
            while i < n { put(load(s, i), i); i &+= 1 }
        }
    }

    @inline(__always)
    static func ungroupWords<W: FixedWidthInteger & UnsignedInteger>(_ planes: UnsafeRawBufferPointer, _: W.Type, base: UnsafeRawBufferPointer?, op: DeltaOp,
                                                                     into dst: UnsafeMutableRawBufferPointer) {
        let size = MemoryLayout<W>.size, n = planes.count / size
        let p = planes.baseAddress!.assumingMemoryBound(to: UInt8.self), d = dst.baseAddress!
        @inline(__always) func get(_ i: Int) -> W {
            var v: W = 0
            var k = 0
            while k < size { v |= W(truncatingIfNeeded: p[k &* n &+ i]) &<< (8 &* k); k &+= 1 }
            return v
        }
        @inline(__always) func store(_ v: W, _ i: Int) { d.storeBytes(of: v.littleEndian, toByteOffset: i &* size, as: W.self) }
        @inline(__always) func load(_ p: UnsafeRawPointer, _ i: Int) -> W { W(littleEndian: p.loadUnaligned(fromByteOffset: i &* size, as: W.self)) }
        var i = 0
        if let b = base?.baseAddress {
            if op == .xor {
                while i < n { store(get(i) ^ load(b, i), i); i &+= 1 }
            } else {
                while i < n { store(load(b, i) &+ unzigzag(get(i)), i); i &+= 1 }
            }
        } else {
            while i < n { store(get(i), i); i &+= 1 }
        }
    }
}
