// Objects: ids, round trips over awkward sizes and codecs, corruption detection, the header checks.

import Foundation
import Testing
import TestSupport
@testable import ShardStore

@Suite struct ObjectTests {
    let scratch = ScratchDirectory("objects")

    func makeStore() throws -> Store { try Store.create(at: scratch.file("store")) }

    @Test func idsDependOnKindTagAndContent() {
        let bytes: [UInt8] = [1, 2, 3, 4]
        let a = ObjectHasher.id(of: bytes, kind: .tensor, tag: 2)
        #expect(a == ObjectHasher.id(of: bytes, kind: .tensor, tag: 2))
        #expect(a != ObjectHasher.id(of: bytes, kind: .tensor, tag: 8))
        #expect(a != ObjectHasher.id(of: bytes, kind: .blob, tag: 2))
        #expect(a != ObjectHasher.id(of: [1, 2, 3, 5], kind: .tensor, tag: 2))
        #expect(ObjectHasher.id(of: [], kind: .blob) != ObjectHasher.id(of: [0], kind: .blob))
        #expect(ObjectID(hex: a.hex) == a)
        #expect(ObjectID(hex: a.hex.uppercased()) == a)
        #expect(ObjectID(bytes: a.bytes) == a)
        #expect(a.hex.count == 32)
        #expect(ObjectID(hex: String(a.hex.dropLast())) == nil)
        #expect(ObjectID(hex: String(a.hex.dropLast()) + "g") == nil)
    }

    @Test func incrementalHashEqualsOneShot() {
        let bytes = pseudoRandomBytes(10_000, seed: 7)
        var h = ObjectHasher(kind: .blob, tag: 0, length: bytes.count)
        bytes.withUnsafeBytes { raw in
            h.update(UnsafeRawBufferPointer(rebasing: raw[0..<1234]))
            h.update(UnsafeRawBufferPointer(rebasing: raw[1234...]))
        }
        #expect(h.finalize() == ObjectHasher.id(of: bytes, kind: .blob))
    }

    @Test(arguments: [0, 1, 63, 64, 65, 4095, 4097, (4 << 20) + 3])
    func roundTripEveryCodec(size: Int) throws {
        let store = try makeStore()
        let random = pseudoRandomBytes(size, seed: UInt64(size))
        let repetitive = (0..<size).map { UInt8(truncatingIfNeeded: $0 % 7) }
        for (bytes, policy) in [(random, CodecPolicy.raw), (random, .lz4), (random, .auto), (repetitive, .lz4), (repetitive, .auto)] {
            let r = try store.put(bytes, kind: .blob, codec: policy)
            #expect(r.id == ObjectHasher.id(of: bytes, kind: .blob))
            let back = try store.read(r.id)
            #expect(back.count == size)
            #expect(back.array == bytes)
            let header = try store.header(r.id)
            #expect(header.logicalLength == size)
            if policy == .raw { #expect(header.codec == .raw && back.isMapped) }
            if policy == .lz4 && bytes == repetitive && size > 0 { #expect(header.codec == .lz4) }
            // Random bytes never shrink by 1/8, so auto keeps them raw.
            if policy == .auto && bytes == random && size > 0 { #expect(header.codec == .raw) }
        }
    }

    @Test func payloadStartsAt64AndFileIsExact() throws {
        let store = try makeStore()
        let bytes = pseudoRandomBytes(100, seed: 1)
        let id = try store.put(bytes, kind: .blob).id
        let file = try #require(FileManager.default.contents(atPath: store.objectPath(id)))
        #expect(file.count == 64 + 100)
        #expect(Array(file[64...]) == bytes)
        #expect(Array(file[0..<6]) == Array("BRGOBJ".utf8))
        // Objects are read-only once written.
        let attributes = try FileManager.default.attributesOfItem(atPath: store.objectPath(id))
        #expect((attributes[.posixPermissions] as? Int) == 0o444)
    }

    @Test func puttingTwiceWritesOnce() throws {
        let store = try makeStore()
        let bytes = pseudoRandomBytes(1000, seed: 3)
        let first = try store.put(bytes, kind: .blob)
        let second = try store.put(bytes, kind: .blob)
        #expect(first.written && !second.written)
        #expect(first.id == second.id)
        #expect(try store.allObjectIDs() == [first.id])
    }

    /// Flips one byte at `offset` of an object file (objects are read-only; tests make them writable).
    func flip(_ path: String, at offset: Int) throws {
        chmod(path, 0o644)
        var data = try #require(FileManager.default.contents(atPath: path))
        data[offset] ^= 0x5A
        try data.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o444)
    }

    @Test(arguments: [CodecPolicy.raw, .lz4])
    func anyFlippedByteIsCaught(policy: CodecPolicy) throws {
        let store = try makeStore()
        let bytes = (0..<3000).map { UInt8(truncatingIfNeeded: $0 * 31 % 251) }
        let id = try store.put(bytes, kind: .blob, codec: policy).id
        let path = store.objectPath(id)
        let size = try #require(Posix.status(path)).size
        // Every header byte and a spread of payload bytes.
        var offsets = Array(0..<64)
        offsets += stride(from: 64, to: size, by: max(1, (size - 64) / 40)).map { $0 }
        offsets.append(size - 1)
        for offset in offsets {
            try flip(path, at: offset)
            #expect(throws: StoreError.self) { _ = try store.read(id, verify: true) }
            let report = try store.verify()
            #expect(report.corrupt.map(\.id) == [id], "flip at \(offset) not reported")
            try flip(path, at: offset)
            #expect(try store.read(id).array == bytes)
        }
        #expect(try store.verify().ok)
    }

    @Test func corruptionErrorNamesTheObject() throws {
        let store = try makeStore()
        let id = try store.put(pseudoRandomBytes(500, seed: 9), kind: .blob).id
        try flip(store.objectPath(id), at: 300)
        do {
            _ = try store.read(id)
            Issue.record("corruption not detected")
        } catch let e as StoreError {
            #expect(e.description.contains(id.hex))
            #expect(e.description.contains("corrupt"))
        }
    }

    @Test func truncatedAndExtendedFilesAreRejected() throws {
        let store = try makeStore()
        let id = try store.put(pseudoRandomBytes(500, seed: 10), kind: .blob).id
        let path = store.objectPath(id)
        let original = try #require(FileManager.default.contents(atPath: path))
        chmod(path, 0o644)
        for variant in [original.prefix(10), original.prefix(64), original.prefix(563), original + Data([0])] {
            try Data(variant).write(to: URL(fileURLWithPath: path))
            #expect(throws: StoreError.self) { _ = try store.read(id, verify: false) }
        }
        try original.write(to: URL(fileURLWithPath: path))
        #expect(try store.read(id).count == 500)
    }

    @Test func objectFileUnderTheWrongNameIsCorrupt() throws {
        let store = try makeStore()
        let a = try store.put([1, 2, 3], kind: .blob).id
        let b = ObjectHasher.id(of: [9, 9, 9], kind: .blob)
        try FileManager.default.createDirectory(atPath: store.objectDirectory(b), withIntermediateDirectories: true)
        try FileManager.default.copyItem(atPath: store.objectPath(a), toPath: store.objectPath(b))
        #expect(throws: StoreError.self) { _ = try store.read(b, verify: false) }
    }

    @Test func malformedLZ4PayloadsAreRejected() throws {
        let input = [UInt8](repeating: 7, count: 10_000)
        let good = try #require(input.withUnsafeBytes { LZ4Codec.compress($0) })
        var out = [UInt8](repeating: 0, count: 10_000)
        try good.withUnsafeBytes { g in try out.withUnsafeMutableBytes { try LZ4Codec.decompress(g, into: $0) } }
        #expect(out == input)
        var variants: [[UInt8]] = [Array(good.prefix(5)), Array(good.dropLast()), good + [0]]
        var badCount = good
        badCount[4] = 9
        variants.append(badCount)
        var badSize = good
        badSize[8] = 0xFF; badSize[9] = 0xFF
        variants.append(badSize)
        for v in variants {
            #expect(throws: (any Error).self) {
                try v.withUnsafeBytes { g in try out.withUnsafeMutableBytes { try LZ4Codec.decompress(g, into: $0) } }
            }
        }
    }

    @Test func openingSomethingThatIsNotAStoreFails() throws {
        #expect(throws: StoreError.self) { _ = try Store(at: scratch.file("nothing")) }
        try FileManager.default.createDirectory(atPath: scratch.file("empty"), withIntermediateDirectories: true)
        #expect(throws: StoreError.self) { _ = try Store(at: scratch.file("empty")) }
        try Data("{\"format\": \"bridge-store\", \"version\": 1, \"colour\": 3}".utf8).write(to: URL(fileURLWithPath: scratch.file("empty/config.json")))
        do {
            _ = try Store(at: scratch.file("empty"))
            Issue.record("unknown config key accepted")
        } catch let e as StoreError {
            #expect(e.description.contains("colour"))
        }
        _ = try makeStore()
        #expect(throws: StoreError.alreadyAStore(path: scratch.file("store"))) { try Store.create(at: scratch.file("store")) }
    }

    @Test func prefixesResolveAndAmbiguityIsReported() throws {
        let store = try makeStore()
        let id = try store.put([42], kind: .blob).id
        #expect(try store.resolve(id.hex).id == id)
        #expect(try store.resolve(String(id.hex.prefix(8))).id == id)
        #expect(try store.resolve(String(id.hex.prefix(20)).uppercased()).id == id)
        #expect(throws: StoreError.self) { try store.resolve(String(id.hex.prefix(7))) }
        // Two (fake) objects sharing 10 hex digits.
        let dir = store.root + "/objects/ab"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for tail in ["1111111111111111111111", "2222222222222222222222"] {
            FileManager.default.createFile(atPath: dir + "/abcdef0123" + tail, contents: Data())
        }
        do {
            _ = try store.resolve("abcdef0123")
            Issue.record("ambiguous prefix accepted")
        } catch let StoreError.ambiguousPrefix(prefix, candidates) {
            #expect(prefix == "abcdef0123")
            #expect(candidates.count == 2)
        }
        #expect(throws: StoreError.unknownRef("deadbeefdeadbeef")) { try store.resolve("deadbeefdeadbeef") }
    }

    @Test func statsCountLogicalAndDiskBytes() throws {
        let store = try makeStore()
        try store.put(pseudoRandomBytes(1000, seed: 1), kind: .blob, codec: .raw)
        try store.put([UInt8](repeating: 1, count: 100_000), kind: .blob, codec: .lz4)
        let s = try store.stats()
        #expect(s.objects == 2)
        #expect(s.logicalBytes == 101_000)
        #expect(s.byCodec["raw"] == 1 && s.byCodec["lz4"] == 1)
        #expect(s.diskBytes < s.logicalBytes)
        #expect(s.diskBytes > 1000 + 128)
    }
}
