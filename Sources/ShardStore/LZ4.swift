// The `lz4` codec: the logical bytes cut into independent blocks, each LZ4-compressed.
//
//   payload = block size u32 LE | block count u32 LE | compressed size u32 LE × count | blocks
//
// The block size is fixed at 4 MiB in format version 1; the last block holds the remainder. Independent blocks keep every int within LZ4's limits and
// let a reader bound its work per block.

import CLZ4
import Tensors

/// Reused 4 MiB scratch blocks for the grouped codecs' transforms: a fresh allocation of that size
/// is a fresh mapping, and faulting its pages in costs as much as the transform itself.
final class ScratchPool: Sendable {
    static let shared = ScratchPool()
    private let free = Locked<[UnsafeMutableRawBufferPointer]>([])
    private struct Box: @unchecked Sendable { var p: UnsafeMutableRawBufferPointer }

    func withBlock<R>(_ body: (UnsafeMutableRawBufferPointer) throws -> R) rethrows -> R {
        let block = free.withLock { $0.popLast().map(Box.init) }?.p
            ?? UnsafeMutableRawBufferPointer.allocate(byteCount: LZ4Codec.blockSize, alignment: 64)
        defer {
            let box = Box(p: block)
            let kept = free.withLock { f -> Bool in
                guard f.count < 4 else { return false }
                f.append(box.p)
                return true
            }
            if !kept { block.deallocate() }
        }
        return try body(block)
    }
}

enum LZ4Codec {
    static let blockSize = 4 << 20

    /// Compressed payload, or nil when compression would not save at least `minSaving` of the input.
    /// With `transform`, each block is first rewritten into a scratch block (`transform(offset,
    /// block, scratch)`, offset into the input) and the scratch block is compressed: the grouped codecs.
    static func compress(_ input: UnsafeRawBufferPointer, minSaving: Double = 0, reserve: Int = 0,
                         transform: ((Int, UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) -> Void)? = nil) -> [UInt8]? {
        guard transform != nil else { return compress(input, minSaving: minSaving, reserve: reserve, transform: nil, scratch: nil) }
        return ScratchPool.shared.withBlock { compress(input, minSaving: minSaving, reserve: reserve, transform: transform, scratch: $0) }
    }

    private static func compress(_ input: UnsafeRawBufferPointer, minSaving: Double, reserve: Int,
                                 transform: ((Int, UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) -> Void)?,
                                 scratch: UnsafeMutableRawBufferPointer?) -> [UInt8]? {
        let count = input.count
        let blocks = count == 0 ? 0 : (count + blockSize - 1) / blockSize
        // Room for the worst case of each block: a whole block's bound, the last block's own (a
        // small object must not allocate, and zero, a 4 MiB block's worth).
        func bound(_ n: Int) -> Int { Int(LZ4_compressBound(Int32(n))) }
        let worst = blocks == 0 ? 0 : (blocks - 1) * bound(blockSize) + bound(count - (blocks - 1) * blockSize)
        let budget = Double(count) * (1 - minSaving)
        let head = reserve + 8 + 4 * blocks
        var used = head, ok = true
        func compressBlocks(into dst: UnsafeMutableRawBufferPointer) -> Bool {
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
                    Int32(n), Int32(bound(n)))
                if written <= 0 { return false }
                storeLE32(UInt32(written), dst, reserve + 8 + 4 * b)
                used += Int(written)
                if minSaving > 0 && Double(used) > budget { return false }
            }
            return true
        }
        // Only the bytes written are ever initialised (the header zeroed, then LZ4's output), so a
        // big object's worst case is not zeroed first.
        let out = [UInt8](unsafeUninitializedCapacity: head + worst) { buffer, initialized in
            let dst = UnsafeMutableRawBufferPointer(buffer)
            dst.baseAddress!.initializeMemory(as: UInt8.self, repeating: 0, count: head)
            ok = compressBlocks(into: dst)
            initialized = ok ? used : head
        }
        guard ok else { return nil }
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
        guard inverse != nil else { return try decompress(payload, into: output, blocks: blocks, inverse: nil, scratch: nil) }
        try ScratchPool.shared.withBlock { try decompress(payload, into: output, blocks: blocks, inverse: inverse, scratch: $0) }
    }

    private static func decompress(_ payload: UnsafeRawBufferPointer, into output: UnsafeMutableRawBufferPointer, blocks: Int,
                                   inverse: ((Int, UnsafeRawBufferPointer, UnsafeMutableRawBufferPointer) -> Void)?,
                                   scratch: UnsafeMutableRawBufferPointer?) throws {
        let bs = blockSize
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
