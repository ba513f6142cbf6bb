// Hostile object files and journals (issue [reliability] 4): a header claiming gigabytes from a
// tiny file, LZ4 block tables that run past the payload, delta chains that name themselves, and a
// journal line nested past the JSON depth limit. Each read is refused with corruptObject (or
// invalidJSON) naming the object (or file) and what lied; nothing traps or allocates the claim.

import Foundation
import Testing
import TestSupport
@testable import ShardStore

@Suite struct HostileStoreInputTests {
    let scratch = ScratchDirectory("hostile-store")

    /// Replaces object `id`'s file with `header` (64 bytes, the id kept) + `payload`.
    func plant(_ store: Store, _ id: ObjectID, codec: Codec, logical: UInt64, payload: [UInt8], base: ObjectID = .zero) throws {
        var h = Array("BRGOBJ".utf8) + [0, 1, 1, 0, codec.rawValue, ObjectKind.blob.rawValue, 0, 0, 0, 0]
        h += withUnsafeBytes(of: logical.littleEndian, Array.init) + withUnsafeBytes(of: UInt64(payload.count).littleEndian, Array.init)
        h += id.bytes + base.bytes
        let path = store.objectPath(id)
        try? FileManager.default.removeItem(atPath: path)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(h + payload).write(to: URL(fileURLWithPath: path))
    }

    func expectCorrupt(_ store: Store, _ id: ObjectID, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) {
        Store.clearDecodedCache()
        #expect(sourceLocation: sourceLocation) {
            _ = try store.read(id, verify: true)
        } throws: { e in
            guard case let .corruptObject(bad, path, reason) = e as? StoreError else { return false }
            return bad == id && path == store.objectPath(id) && reason.contains(fragment)
        }
    }

    @Test func tinyFilesClaimingGigabytesAreRefusedBeforeAllocating() throws {
        let store = try Store.create(at: scratch.file("s"))
        let id = ObjectID(high: 0xfeed, low: 1)
        // lz4 expands at most ~255:1: a 16-byte payload cannot hold 4 GiB.
        try plant(store, id, codec: .lz4, logical: 1 << 32, payload: [UInt8](repeating: 0, count: 16))
        expectCorrupt(store, id, "lz4 object claims 4294967296 logical bytes from 16 stored")
        try plant(store, id, codec: .shuffleLZ4, logical: UInt64.max, payload: [])
        expectCorrupt(store, id, "absurd logical length")
        // A payload length past the end of the file.
        try plant(store, id, codec: .raw, logical: 1 << 40, payload: [1, 2, 3])
        let path = store.objectPath(id)
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes.replaceSubrange(24..<32, with: withUnsafeBytes(of: UInt64(1 << 40).littleEndian, Array.init))
        try bytes.write(to: URL(fileURLWithPath: path))
        expectCorrupt(store, id, "header says 1099511627776 payload bytes but the file holds 3")
    }

    @Test func lz4BlockTablesPastThePayloadAreRefused() throws {
        let store = try Store.create(at: scratch.file("s"))
        let id = ObjectID(high: 0xfeed, low: 2)
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        // One block whose compressed size runs past the payload.
        try plant(store, id, codec: .lz4, logical: 100, payload: le32(4 << 20) + le32(1) + le32(UInt32.max) + [0, 0, 0, 0])
        expectCorrupt(store, id, "lz4 block 0 runs past the payload")
        // A block count the logical length does not need (2^32 - 1 blocks would be a 16 GiB table).
        try plant(store, id, codec: .lz4, logical: 100, payload: le32(4 << 20) + le32(UInt32.max) + [UInt8](repeating: 0, count: 12))
        expectCorrupt(store, id, "lz4 block count 4294967295 does not fit logical length 100")
    }

    @Test func deltaChainsThatLoopAreRefused() throws {
        let store = try Store.create(at: scratch.file("s"))
        let a = ObjectID(high: 0xfeed, low: 3), b = ObjectID(high: 0xfeed, low: 4)
        let prefix: [UInt8] = [1, 1, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0, count: 12)
        try plant(store, a, codec: .deltaXOR, logical: 4, payload: prefix, base: a)
        expectCorrupt(store, a, "names itself as its base")
        // a → b → a: depths must fall by one per link, so the loop ends at the first mismatch.
        try plant(store, a, codec: .deltaXOR, logical: 4, payload: prefix, base: b)
        try plant(store, b, codec: .deltaXOR, logical: 4, payload: prefix, base: a)
        expectCorrupt(store, a, "its delta base \(b)")
    }

    @Test func journalLinesNestedTooDeeplyAreRefused() throws {
        let store = try Store.create(at: scratch.file("s"))
        let path = store.root + "/journal/r.jsonl"
        let deep = String(repeating: "[", count: 100_000) + String(repeating: "]", count: 100_000)
        try Data(("{\"stage\": \"x\"}\n" + deep + "\n").utf8).write(to: URL(fileURLWithPath: path))
        #expect {
            _ = try store.readJournal(run: "r")
        } throws: { e in
            guard case let .invalidJSON(what, reason) = e as? StoreError else { return false }
            return what == "'\(path)' line 2" && reason.contains("nesting deeper than 512")
        }
    }
}
