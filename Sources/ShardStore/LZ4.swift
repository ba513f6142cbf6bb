// The `lz4` codec: the logical bytes cut into independent blocks, each LZ4-compressed.
//
//   payload = block size u32 LE | block count u32 LE | compressed size u32 LE × count | blocks
//
// The block size is fixed at 4 MiB in format version 1; the last block holds the remainder. Independent blocks keep every int within LZ4's limits and
// let a reader bound its work per block.

import CLZ4

enum LZ4Codec {
    static let blockSize = 4 << 20

    /// Compressed payload, or nil when compression would not save at least `minSaving` of the input.
    /// With `transform`, each block is first rewritten into a scratch block (`transform(offset,
    /// block, scratch)`, offset into the input) and the scratch block is compressed: the grouped codecs.
    static func compress(_ input: UnsafeRawBufferPointer, minSaving: Double = 0, reserve: Int = 0,
                         transform: ((Int, UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) -> Void)? = nil) -> [UInt8]? {
        let count = input.count
        let blocks = count == 0 ? 0 : (count + blockSize - 1) / blockSize
        let bound = Int(LZ4_compressBound(Int32(blockSize)))
        var out = [UInt8](repeating: 0, count: reserve + 8 + 4 * blocks + blocks * bound)
        let budget = Double(count) * (1 - minSaving)
        var used = reserve + 8 + 4 * blocks
        let scratch = transform == nil ? nil : UnsafeMutableRawBufferPointer.allocate(byteCount: min(blockSize, max(count, 1)), alignment: 64)
        defer { scratch?.deallocate() }
        let ok: Bool = out.withUnsafeMutableBytes { dst in
            storeLE32(UInt32(blockSize), dst, reserve)
            storeLE32(UInt32(blocks), dst, reserve + 4)
            for b in 0..<blocks {
                let start = b * blockSize
                let n = min(blockSize, count - start)
                var source = input.baseAddress!.advanced(by: start)
                if let transform, let scratch {
                    transform(start, UnsafeRawBufferPointer(start: source, count: n), UnsafeMutableRawBufferPointer(rebasing: scratch[0..<n]))
                    source = UnsafeRawPointer(scratch.baseAddress!)
                }
                let written = LZ4_compress_default(
                    source.assumingMemoryBound(to: CChar.self),
                    dst.baseAddress!.advanced(by: used).assumingMemoryBound(to: CChar.self),
                    Int32(n), Int32(bound))
                if written <= 0 { return false }
                storeLE32(UInt32(written), dst, reserve + 8 + 4 * b)
                used += Int(written)
                if minSaving > 0 && Double(used) > budget { return false }
            }
            return true
        }
        guard ok else { return nil }
        out.removeSubrange(used...)
        return out
    }

    enum DecodeError: Error { case malformed(String) }

    /// Decompresses `payload` into `output`, which must be exactly the logical length. With
    /// `inverse`, each block decodes into a scratch block first and `inverse(offset, scratch, out
    /// block)` writes the logical bytes.
    static func decompress(_ payload: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer,
                           inverse: ((Int, UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) -> Void)? = nil) throws {
        guard payload.count >= 8 else { throw DecodeError.malformed("lz4 payload shorter than its 8-byte block header") }
        let bs = Int(loadLE32(payload, 0))
        let blocks = Int(loadLE32(payload, 4))
        guard bs == blockSize else { throw DecodeError.malformed("lz4 block size \(bs) is not the format's \(blockSize)") }
        let expectedBlocks = output.count == 0 ? 0 : (output.count + bs - 1) / bs
        guard blocks == expectedBlocks else {
            throw DecodeError.malformed("lz4 block count \(blocks) does not fit logical length \(output.count)")
        }
        guard 8 + 4 * blocks <= payload.count else { throw DecodeError.malformed("lz4 block table runs past the payload") }
        let scratch = inverse == nil ? nil : UnsafeMutableRawBufferPointer.allocate(byteCount: min(bs, max(output.count, 1)), alignment: 64)
        defer { scratch?.deallocate() }
        var offset = 8 + 4 * blocks
        for b in 0..<blocks {
            let csize = Int(loadLE32(payload, 8 + 4 * b))
            guard csize > 0, csize <= payload.count - offset else {
                throw DecodeError.malformed("lz4 block \(b) runs past the payload")
            }
            let n = min(bs, output.count - b * bs)
            let target = scratch?.baseAddress ?? output.baseAddress!.advanced(by: b * bs)
            let got = LZ4_decompress_safe(
                payload.baseAddress!.advanced(by: offset).assumingMemoryBound(to: CChar.self),
                target.assumingMemoryBound(to: CChar.self),
                Int32(csize), Int32(n))
            guard got == Int32(n) else { throw DecodeError.malformed("lz4 block \(b) does not decode to \(n) bytes") }
            if let inverse, let scratch {
                inverse(b * bs, UnsafeRawBufferPointer(rebasing: scratch[0..<n]),
                        UnsafeMutableRawBufferPointer(rebasing: output[(b * bs)..<(b * bs + n)]))
            }
            offset += csize
        }
        guard offset == payload.count else { throw DecodeError.malformed("\(payload.count - offset) trailing bytes after the last lz4 block") }
    }
}

func storeLE32(_ v: UInt32, _ p: UnsafeMutableRawBufferPointer, _ offset: Int) {
    p.storeBytes(of: v.littleEndian, toByteOffset: offset, as: UInt32.self)
}

func loadLE32(_ p: UnsafeRawBufferPointer, _ offset: Int) -> UInt32 {
    UInt32(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

func loadLE64(_ p: UnsafeRawBufferPointer, _ offset: Int) -> UInt64 {
    UInt64(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt64.self))
}
