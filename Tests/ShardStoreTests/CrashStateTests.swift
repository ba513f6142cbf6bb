// Every crash state of each store action (TestSupport/CrashStates.swift): for every prefix of
// the action's file-system operations, the states a kill or a power loss there could leave, with
// unsynced data dropped and unordered operations reordered. In each: the store opens, every ref
// committed before the action is intact, a ref the action moves is its old or its new value (the
// new one once the action returned), journals lose no committed line, `verify` finds every
// object whole; then the action runs again and leaves the state an uninterrupted one leaves.

import Foundation
import Testing
import TestSupport
@testable import ShardStore

/// Checks every crash state of `action` on a store that `setup` prepared; returns the counts and
/// prints them for the reliability table (tools/crash-states.sh collects the lines).
@discardableResult
func checkCrashStates(_ label: String, scratch: ScratchDirectory, config: StoreConfig = StoreConfig(),
                      setup: (Store) throws -> Void = { _ in },
                      action: (Store) throws -> Void,
                      after: (Store, CrashState) throws -> Void = { _, _ in }) throws -> CrashStateReport {
    let store = try Store.create(at: scratch.file("store-\(label)"), config: config)
    try setup(store)
    let report = try CrashStates.check(label, store: store, scratch: scratch.file("states-\(label)"), action: action, after: after)
    // every prefix was a crash point; distinct states are fewer (most differ only in tmp/)
    #expect(report.prefixes == report.operations + 1 && report.states >= 3, "\(label): \(report)")
    return report
}

@Suite struct CrashStateTests {
    let scratch = ScratchDirectory("crash-states")

    static let payload = (0..<6000).map { UInt8(truncatingIfNeeded: $0 &* 2654435761 >> 13) }

    @Test(arguments: [CodecPolicy.raw, .lz4, .shuffleLZ4])
    func objectPutAndRef(codec: CodecPolicy) throws {
        let bytes = Self.payload
        try checkCrashStates("put-\(codec)", scratch: scratch, setup: { store in
            try store.updateRef(try RefName("models/old"), to: try store.put([1, 2, 3], kind: .blob).id)
        }, action: { store in
            let id = try bytes.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, codec: codec).id }
            try store.updateRef(try RefName("models/new"), to: id)
        }, after: { store, state in
            guard try store.read(try store.readRef(try RefName("models/new"))!).array == bytes else {
                throw CrashCheckFailure(description: "\(state): the object reads back different bytes")
            }
        })
    }

    @Test func deltaPutOverItsBase() throws {
        var config = StoreConfig()
        config.deltaMinSaving = 0
        var next = Self.payload
        for i in stride(from: 0, to: next.count, by: 16) { next[i] ^= 1 }
        try checkCrashStates("put-delta", scratch: scratch, config: config, setup: { store in
            let base = try Self.payload.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2).id }
            try store.updateRef(try RefName("models/base"), to: base)
        }, action: { store in
            let base = try store.readRef(try RefName("models/base"))!
            let r = try next.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: base) }
            try store.updateRef(try RefName("models/next"), to: r.id)
        }, after: { store, state in
            guard try store.read(try store.readRef(try RefName("models/next"))!).array == next else {
                throw CrashCheckFailure(description: "\(state): the delta reads back different bytes")
            }
        })
    }

    @Test func manifestWithItsObjectsAndRefMove() throws {
        try checkCrashStates("manifest", scratch: scratch, setup: { store in
            try store.updateRef(try RefName("runs/r/head"), to: try store.putManifest(["format": "test", "step": 0]))
        }, action: { store in
            let a = try store.put(Array(Self.payload.prefix(3000)), kind: .tensor, tag: 2).id
            let b = try store.put(Array(Self.payload.suffix(2000)), kind: .tensor, tag: 2, codec: .lz4).id
            let manifest = try store.putManifest(["format": "test", "step": 1,
                                                  "tensors": [["name": "a", "id": .string(a.hex)], ["name": "b", "id": .string(b.hex)]]])
            let old = try store.readRef(try RefName("runs/r/head"))
            try store.updateRef(try RefName("runs/r/head"), to: manifest, expected: .some(old))
        })
    }

    @Test func journalAppend() throws {
        try checkCrashStates("journal", scratch: scratch, setup: { store in
            try store.appendJournal(run: "r", ["stage": "a", "n": 1])
        }, action: { store in
            try store.appendJournal(run: "r", ["stage": "b", "n": 2])
        }, after: { store, state in
            // Run again after the crash: the committed line is there once or (when the crash came
            // after it was durable) twice; nothing else.
            let lines = try store.readJournal(run: "r")
            guard lines.first == ["stage": "a", "n": 1], lines.count >= 2, lines.dropFirst().allSatisfy({ $0 == ["stage": "b", "n": 2] }) else {
                throw CrashCheckFailure(description: "\(state): journal after running again: \(lines)")
            }
        })
    }

    @Test func journalAppendAfterATornLine() throws {
        try checkCrashStates("journal-torn-tail", scratch: scratch, setup: { store in
            try store.appendJournal(run: "r", ["stage": "a"])
            let h = try FileHandle.open(store.root + "/journal/r.jsonl", flags: O_WRONLY | O_APPEND)
            try h.writeAll(Array("{\"stage\":\"to".utf8))
        }, action: { store in
            try store.appendJournal(run: "r", ["stage": "b"])
        })
    }

    @Test func gcSweep() throws {
        var config = StoreConfig()
        config.gcGraceSeconds = 0
        try checkCrashStates("gc", scratch: scratch, config: config, setup: { store in
            let kept = try store.put(Array(Self.payload.prefix(100)), kind: .blob).id
            try store.updateRef(try RefName("models/kept"), to: kept)
            for i in 0..<4 { _ = try store.put([UInt8(i), 9, 9], kind: .blob) }
            let base = try Self.payload.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2).id }
            var next = Self.payload
            next[0] ^= 1
            let delta = try next.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: base).id }
            try store.updateRef(try RefName("models/delta"), to: delta)
        }, action: { store in
            _ = try store.gc(dryRun: false, graceSeconds: 0)
        }, after: { store, state in
            guard try store.allObjectIDs().count == 3 else {
                throw CrashCheckFailure(description: "\(state): gc run again leaves \(try store.allObjectIDs().count) objects, not 3")
            }
        })
    }

    @Test func refDelete() throws {
        try checkCrashStates("ref-delete", scratch: scratch, setup: { store in
            try store.updateRef(try RefName("runs/r/steps/1"), to: try store.put([1], kind: .blob).id)
            try store.updateRef(try RefName("runs/r/steps/2"), to: try store.put([2], kind: .blob).id)
        }, action: { store in
            _ = try store.deleteRef(try RefName("runs/r/steps/1"))
        })
    }
}

/// The harness finds what it is there to find: a writer that renames a new file over an old one
/// without fsyncing the data first loses both after a power loss at the right moment; with the
/// fsync, no state does.
@Suite struct CrashStateHarnessTests {
    let scratch = ScratchDirectory("crash-harness")

    func replace(in dir: String, syncing: Bool) throws -> CrashStateReport {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dir + "/file", contents: Data("old".utf8))
        return try CrashStates.enumerate(root: dir, scratch: dir + "-states") {
            let h = try FileHandle.open(dir + "/file.tmp", flags: O_WRONLY | O_CREAT | O_EXCL)
            try h.writeAll(Array("new content".utf8))
            if syncing { try h.sync() }
            try Posix.rename(dir + "/file.tmp", dir + "/file")
            try Posix.syncDirectory(dir)
        } check: { path, state in
            let text = String(decoding: try Data(contentsOf: URL(fileURLWithPath: path + "/file")), as: UTF8.self)
            guard text == "old" || text == "new content" else { throw CrashCheckFailure(description: "file holds '\(text)'") }
        }
    }

    @Test func aMissingFsyncIsFound() throws {
        do {
            _ = try replace(in: scratch.file("naive"), syncing: false)
            Issue.record("no crash state of the unsynced rename was refused")
        } catch let failure as CrashStateFailure {
            #expect(failure.state.kind.hasPrefix("power") || failure.state.kind.hasPrefix("kill-op"), "\(failure)")
            #expect("\(failure)".contains("file holds ''"), "\(failure)")
        }
        let report = try replace(in: scratch.file("synced"), syncing: true)
        #expect(report.operations == 5 && report.states >= 6, "\(report)")
    }
}

/// A disk that fills up (and a file system that turns read-only) at every point of each store
/// action: a clear error naming the path, nothing committed lost, verify clean, and the action
/// completes once space is back.
@Suite struct InjectedFaultTests {
    let scratch = ScratchDirectory("faults")

    @Test(arguments: [ENOSPC, EROFS, EACCES])
    func everyPointOfAPutManifestAndRefMove(errno code: Int32) throws {
        let store = try Store.create(at: scratch.file("store-\(code)"))
        try store.updateRef(try RefName("runs/r/head"), to: try store.putManifest(["format": "test", "step": 0]))
        try store.appendJournal(run: "r", ["stage": "a"])
        let report = try InjectedFaults.check("put+manifest+ref+journal", store: store, scratch: scratch.file("states-\(code)"), errno: code) { s in
            let a = try s.put(Array(CrashStateTests.payload.prefix(3000)), kind: .tensor, tag: 2).id
            let m = try s.putManifest(["format": "test", "step": 1, "tensors": [["name": "a", "id": .string(a.hex)]]])
            try s.updateRef(try RefName("runs/r/head"), to: m)
            try s.appendJournal(run: "r", ["stage": "b"])
        }
        #expect(report.failed >= 20)
    }

    @Test func everyPointOfGC() throws {
        let store = try Store.create(at: scratch.file("gc"))
        try store.updateRef(try RefName("models/kept"), to: try store.put([1, 2], kind: .blob).id)
        for i in 0..<3 { _ = try store.put([UInt8(i), 7], kind: .blob) }
        let report = try InjectedFaults.check("gc", store: store, scratch: scratch.file("gc-states"), errno: EIO) { s in
            _ = try s.gc(dryRun: false, graceSeconds: 0)
        }
        #expect(report.failed >= 3)
    }
}
