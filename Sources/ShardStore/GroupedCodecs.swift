// The byte-grouped codecs: `shuffle-lz4` (codec 2) and `delta-xor` (codec 3). Within each 4 MiB
// block of logical bytes, the bytes of its n elements of width W are regrouped plane by plane —
// every element's byte 0, then every byte 1, …, byte W−1 (HF Xet's bg4) — and the block is
// LZ4-compressed. `delta-xor` first XORs the bit patterns with a base object of the same kind,
// dtype and length, so identical high bytes (sign, exponent, top of the mantissa) become runs of
// zeros. schemas/object-file.md:
//
//   payload = width u8 | chain depth u8 | 6 zero bytes | lz4 payload (LZ4.swift) of grouped blocks
//
// The width is the dtype's size for tensors (1 for other kinds); the depth is 0 for shuffle-lz4
// and the base's depth + 1 for delta-xor (a full copy has depth 0), so chains are bounded and
// cannot loop: a reader checks both against what it knows.

import Tensors

enum GroupedCodec {
    static let prefixSize = 8
    /// The format's bound on a delta chain (the store's configured bound is lower).
    static let maxDepth = 255

    /// Element width for byte grouping: the dtype's size for tensors, 1 otherwise.
    static func width(kind: ObjectKind, tag: UInt8) -> Int {
        guard kind == .tensor, let d = DType(code: tag) else { return 1 }
        return d.size
    }

    /// The grouped payload of `input` (XORed with `base` when given), or nil when it would not
    /// save `minSaving` of the logical bytes.
    static func encode(_ input: UnsafeRawBufferPointer, width: Int, base: UnsafeRawBufferPointer?, depth: Int,
                       minSaving: Double = 0) -> [UInt8]? {
        precondition(input.count % width == 0 && (base == nil || base!.count == input.count) && depth <= maxDepth)
        guard var out = LZ4Codec.compress(input, minSaving: minSaving, reserve: prefixSize, transform: { offset, block, scratch in
            group(block, width: width, base: base.map { UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + block.count)]) }, into: scratch)
        }) else { return nil }
        out[0] = UInt8(width)
        out[1] = UInt8(depth)
        return out
    }

    /// (width, depth) from a grouped payload's prefix, checked against the expected width.
    static func parsePrefix(_ payload: UnsafeRawBufferPointer, logicalLength: Int, expectedWidth: Int) throws(LZ4Codec.DecodeError) -> (width: Int, depth: Int) {
        guard payload.count >= prefixSize else { throw .malformed("grouped payload shorter than its \(prefixSize)-byte prefix") }
        let width = Int(payload[0]), depth = Int(payload[1])
        guard payload[2..<8].allSatisfy({ $0 == 0 }) else { throw .malformed("reserved bytes of the grouped payload prefix are not zero") }
        guard width == expectedWidth else { throw .malformed("byte-group width \(width) is not the dtype's \(expectedWidth)") }
        guard logicalLength % width == 0 else { throw .malformed("logical length \(logicalLength) is not a multiple of the width \(width)") }
        return (width, depth)
    }

    /// Decodes a grouped payload (prefix already checked) into `output`, XORing with `base`; each
    /// decoded block goes to `hasher` right after it is written, while it is still in cache.
    static func decode(_ payload: UnsafeRawBufferPointer, width: Int, base: UnsafeRawBufferPointer?,
                       into output: UnsafeMutableRawBufferPointer, hasher: SharedObjectHasher? = nil) throws(LZ4Codec.DecodeError) {
        precondition(base == nil || base!.count == output.count)
        do {
            try LZ4Codec.decompress(UnsafeRawBufferPointer(rebasing: payload[prefixSize...]), into: output) { offset, scratch, out in
                ungroup(scratch, width: width, base: base.map { UnsafeRawBufferPointer(rebasing: $0[offset..<(offset + out.count)]) }, into: out)
                hasher?.update(UnsafeRawBufferPointer(out))
            }
        } catch let e as LZ4Codec.DecodeError { throw e } catch { throw .malformed("\(error)") }
    }

    // MARK: the transforms (naive reference and the fast path are the same loop, specialised by width)

    /// dst = the byte planes of (src XOR base).
    static func group(_ src: UnsafeRawBufferPointer, width: Int, base: UnsafeRawBufferPointer?, into dst: UnsafeMutableRawBufferPointer) {
        switch width {
        case 2: groupWords(src, UInt16.self, base: base, into: dst)
        case 4: groupWords(src, UInt32.self, base: base, into: dst)
        case 8: groupWords(src, UInt64.self, base: base, into: dst)
        default: groupBytes(src, width: width, base: base, into: dst)
        }
    }

    /// dst = interleave(planes) XOR base: the inverse of `group`.
    static func ungroup(_ planes: UnsafeRawBufferPointer, width: Int, base: UnsafeRawBufferPointer?, into dst: UnsafeMutableRawBufferPointer) {
        switch width {
        case 2: ungroupWords(planes, UInt16.self, base: base, into: dst)
        case 4: ungroupWords(planes, UInt32.self, base: base, into: dst)
        case 8: ungroupWords(planes, UInt64.self, base: base, into: dst)
        default: ungroupBytes(planes, width: width, base: base, into: dst)
        }
    }

    // Tight loops: wrapping index arithmetic (no overflow traps) so that the compiler vectorises
    // them; measured at 4–12 GB/s per core for widths 2 and 4 (schemas/object-file.md).

    static func groupBytes(_ src: UnsafeRawBufferPointer, width: Int, base: UnsafeRawBufferPointer?, into dst: UnsafeMutableRawBufferPointer) {
        let n = src.count / width
        let s = src.baseAddress!.assumingMemoryBound(to: UInt8.self), d = dst.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let b = base?.baseAddress?.assumingMemoryBound(to: UInt8.self)
        if width == 1 {
            if let b { var i = 0; while i < n { d[i] = s[i] ^ b[i]; i &+= 1 } } else { dst.copyMemory(from: src) }
            return
        }
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

    static func ungroupBytes(_ planes: UnsafeRawBufferPointer, width: Int, base: UnsafeRawBufferPointer?, into dst: UnsafeMutableRawBufferPointer) {
        let n = planes.count / width
        let p = planes.baseAddress!.assumingMemoryBound(to: UInt8.self), d = dst.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let b = base?.baseAddress?.assumingMemoryBound(to: UInt8.self)
        if width == 1 {
            if let b { var i = 0; while i < n { d[i] = p[i] ^ b[i]; i &+= 1 } } else { dst.copyMemory(from: planes) }
            return
        }
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
    static func groupWords<W: FixedWidthInteger & UnsignedInteger>(_ src: UnsafeRawBufferPointer, _: W.Type, base: UnsafeRawBufferPointer?,
                                                                   into dst: UnsafeMutableRawBufferPointer) {
        let size = MemoryLayout<W>.size, n = src.count / size
        let s = src.baseAddress!, d = dst.baseAddress!.assumingMemoryBound(to: UInt8.self)
        if let b = base?.baseAddress {
            var i = 0
            while i < n {
                let v = W(littleEndian: s.loadUnaligned(fromByteOffset: i &* size, as: W.self) ^ b.loadUnaligned(fromByteOffset: i &* size, as: W.self))
                var k = 0
                while k < size { d[k &* n &+ i] = UInt8(truncatingIfNeeded: v &>> (8 &* k)); k &+= 1 }
                i &+= 1
            }
        } else {
            var i = 0
            while i < n {
                let v = W(littleEndian: s.loadUnaligned(fromByteOffset: i &* size, as: W.self))
                var k = 0
                while k < size { d[k &* n &+ i] = UInt8(truncatingIfNeeded: v &>> (8 &* k)); k &+= 1 }
                i &+= 1
            }
        }
    }

    @inline(__always)
    static func ungroupWords<W: FixedWidthInteger & UnsignedInteger>(_ planes: UnsafeRawBufferPointer, _: W.Type, base: UnsafeRawBufferPointer?,
                                                                     into dst: UnsafeMutableRawBufferPointer) {
        let size = MemoryLayout<W>.size, n = planes.count / size
        let p = planes.baseAddress!.assumingMemoryBound(to: UInt8.self), d = dst.baseAddress!
        if let b = base?.baseAddress {
            var i = 0
            while i < n {
                var v: W = 0
                var k = 0
                while k < size { v |= W(truncatingIfNeeded: p[k &* n &+ i]) &<< (8 &* k); k &+= 1 }
                d.storeBytes(of: v.littleEndian ^ b.loadUnaligned(fromByteOffset: i &* size, as: W.self), toByteOffset: i &* size, as: W.self)
                i &+= 1
            }
        } else {
            var i = 0
            while i < n {
                var v: W = 0
                var k = 0
                while k < size { v |= W(truncatingIfNeeded: p[k &* n &+ i]) &<< (8 &* k); k &+= 1 }
                d.storeBytes(of: v.littleEndian, toByteOffset: i &* size, as: W.self)
                i &+= 1
            }
        }
    }
}
