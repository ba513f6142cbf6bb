// Hostile stores: a manifest pointing at objects of the wrong size or dtype, ids that are not 32
// hex digits, ref and run names that try to leave the store (`../`, absolute paths, NUL), and
// symbolic links planted inside the store (a refs directory, a ref, an object, a journal, a
// top-level directory). Each is refused with an error naming the thing; nothing outside the
// store is read or written, and nothing stored is damaged.

import Foundation
import Testing
import TestSupport
import Tensors
@testable import Checkpoint
@testable import ShardStore

@Suite struct HostileStoreTests {
    let scratch = ScratchDirectory("hostile-store")

    @Test func aManifestPointingAtAnObjectOfTheWrongSizeOrDtypeIsRefused() throws {
        let store = try Store.create(at: scratch.file("store"))
        let bf16 = try [UInt8](repeating: 1, count: 16).withUnsafeBytes { try store.putTensor(name: "w", dtype: .bf16, shape: [8], bytes: $0) }
        let id = bf16.chunks[0].id
        // the same 16 bytes read as f32[4]: wrong dtype
        let asF32 = TensorEntry(name: "w", dtype: .f32, shape: [4], chunks: [TensorChunk(id: id, bytes: 16)])
        #expect { _ = try store.loadTensor(asF32) } throws: { e in
            guard case let .corruptObject(bad, _, reason) = e as? StoreError else { return false }
            return bad == id && reason.contains("holds bf16, the manifest says f32") && reason.contains("tensor 'w'")
        }
        // bf16[4] in 8 bytes: wrong size
        let short = TensorEntry(name: "w", dtype: .bf16, shape: [4], chunks: [TensorChunk(id: id, bytes: 8)])
        #expect { _ = try store.loadTensor(short) } throws: { e in
            guard case let .corruptObject(_, _, reason) = e as? StoreError else { return false }
            return reason.contains("holds 16 bytes, the manifest says 8")
        }
        // a manifest object as a tensor chunk
        let manifest = try store.putManifest(["format": "test"])
        let notATensor = TensorEntry(name: "w", dtype: .u8, shape: [14], chunks: [TensorChunk(id: manifest, bytes: 14)])
        #expect { _ = try store.loadTensor(notATensor) } throws: { e in "\(e)".contains("manifest") }
        #expect(try store.loadTensor(bf16).buffer.count == 16)
    }

    @Test(arguments: ["", "abc", String(repeating: "a", count: 31), String(repeating: "a", count: 33), String(repeating: "g", count: 32),
                      "../" + String(repeating: "a", count: 29), String(repeating: "a", count: 31) + "\u{0}", " " + String(repeating: "a", count: 31)])
    func idsThatAreNot32HexDigitsAreRefused(text: String) throws {
        #expect(ObjectID(hex: text) == nil)
        let store = try Store.create(at: scratch.file("ids-\(text.utf8.count)-\(text.hashValue)"))
        #expect(throws: StoreError.self) { try store.resolve(text) }
        // a tensor-set manifest naming such an id is refused, naming the tensor
        let json: JSONValue = ["format": "bridge-tensor-set", "version": 1, "metadata": [:],
                               "tensors": [["name": "w", "dtype": "u8", "shape": [1], "chunks": [["id": .string(text), "bytes": 1]]]]]
        #expect { _ = try TensorSet(json: json, id: ObjectID(high: 1, low: 2)) } throws: { "\($0)".contains("tensor 'w'") }
    }

    @Test(arguments: ["../x", "/etc/passwd", "models/../../x", "a\u{0}b", "models/a\u{0}", "models//x", "models/./x"])
    func namesThatTryToLeaveTheStoreAreRefused(name: String) throws {
        #expect(throws: StoreError.self) { try RefName(name) }
        #expect(throws: StoreError.self) { try validateRunName(name) }
    }

    func storeWithARef() throws -> (Store, ObjectID, outside: String) {
        let store = try Store.create(at: scratch.file("links-\(UInt32.random(in: 0...UInt32.max))"))
        let id = try store.put([1, 2, 3], kind: .blob).id
        try store.updateRef(try RefName("models/a"), to: id)
        try store.appendJournal(run: "r", ["stage": "x"])
        let outside = scratch.file("outside-\(UInt32.random(in: 0...UInt32.max))")
        try FileManager.default.createDirectory(atPath: outside, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: outside + "/b", contents: Data((id.hex + "\n").utf8))
        return (store, id, outside)
    }

    func refusesTheLink(_ e: any Error, _ path: String) -> Bool {
        let text = "\(e)"
        return text.contains(path) && text.contains("symbolic link") && (e as? IOError)?.errorClass == .input
    }

    @Test func aPlantedRefsDirectoryLinkIsNeitherReadNorWritten() throws {
        let (store, id, outside) = try storeWithARef()
        let link = store.root + "/refs/evil"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside)
        #expect { _ = try store.readRef(try RefName("evil/b")) } throws: { refusesTheLink($0, link) }
        #expect { try store.updateRef(try RefName("evil/c"), to: id) } throws: { refusesTheLink($0, link) }
        #expect { _ = try store.listRefs() } throws: { refusesTheLink($0, link) }
        #expect(try FileManager.default.contentsOfDirectory(atPath: outside) == ["b"])
        #expect(try store.readRef(try RefName("models/a")) == id)
    }

    @Test func aPlantedRefLinkIsNotFollowed() throws {
        let (store, _, outside) = try storeWithARef()
        let link = store.root + "/refs/models/b"
        try FileManager.default.createSymbolicLink(atPath: link, withDestinationPath: outside + "/b")
        #expect { _ = try store.readRef(try RefName("models/b")) } throws: { "\($0)".contains(link) && "\($0)".contains("symbolic link") }
    }

    @Test func aPlantedObjectLinkIsReportedByVerify() throws {
        let (store, id, outside) = try storeWithARef()
        let path = store.objectPath(id)
        try FileManager.default.copyItem(atPath: path, toPath: outside + "/copy")
        chmod(path, 0o644)
        try FileManager.default.removeItem(atPath: path)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: outside + "/copy")
        #expect { _ = try store.read(id) } throws: { refusesTheLink($0, path) }
        let report = try store.verify()
        #expect(!report.ok && report.corrupt.first?.id == id && report.corrupt.first?.reason.contains("symbolic link") == true, "\(report.corrupt.map(\.reason))")
    }

    @Test func aPlantedJournalLinkIsNotWrittenThrough() throws {
        let (store, _, outside) = try storeWithARef()
        let journal = store.root + "/journal/s.jsonl"
        FileManager.default.createFile(atPath: outside + "/victim", contents: Data("keep\n".utf8))
        try FileManager.default.createSymbolicLink(atPath: journal, withDestinationPath: outside + "/victim")
        #expect { try store.appendJournal(run: "s", ["stage": "y"]) } throws: { "\($0)".contains(journal) }
        #expect { _ = try store.readJournal(run: "s") } throws: { "\($0)".contains(journal) }
        #expect(try String(contentsOfFile: outside + "/victim", encoding: .utf8) == "keep\n")
    }

    @Test(arguments: ["objects", "refs", "journal", "tmp"])
    func aStoreWhoseDirectoryIsALinkDoesNotOpen(sub: String) throws {
        let (store, _, outside) = try storeWithARef()
        let path = store.root + "/" + sub
        try FileManager.default.moveItem(atPath: path, toPath: outside + "/" + sub)
        try FileManager.default.createSymbolicLink(atPath: path, withDestinationPath: outside + "/" + sub)
        #expect { _ = try Store(at: store.root) } throws: { refusesTheLink($0, path) }
    }
}
