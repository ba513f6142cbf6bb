// Refs (validation, atomic updates, conflicts), the journal (torn tails), gc (reachability, grace,
// dead writers' temporary files) and verify's report of what needs a damaged object.

import Foundation
import Testing
import TestSupport
@testable import ShardStore

@Suite struct RefTests {
    let scratch = ScratchDirectory("refs")

    @Test(arguments: ["", "/abs", "a//b", "a/", "../x", "a/../b", "a/./b", ".hidden", "a/.b", "sp ace", "semi;colon", "ü", String(repeating: "a", count: 201)])
    func invalidNamesAreRejected(name: String) {
        #expect(throws: StoreError.self) { try RefName(name) }
    }

    @Test(arguments: ["models/qwen2.5-0.5b", "runs/exp_1/head", "runs/a/steps/12", "x"])
    func validNamesAreAccepted(name: String) throws {
        #expect(try RefName(name).path == name)
    }

    @Test func refsPointAtExistingObjectsOnly() throws {
        let store = try Store.create(at: scratch.file("s"))
        let id = try store.put([1, 2, 3], kind: .blob).id
        let ref = try RefName("models/a")
        #expect(try store.readRef(ref) == nil)
        try store.updateRef(ref, to: id)
        #expect(try store.readRef(ref) == id)
        #expect(try store.resolve("a").id == id)
        #expect(try store.resolve("models/a").ref == ref)
        let missing = ObjectHasher.id(of: [7], kind: .blob)
        #expect(throws: StoreError.self) { try store.updateRef(ref, to: missing) }
        #expect(try store.readRef(ref) == id)
        #expect(try store.listRefs().map(\.name) == [ref])
        #expect(try store.deleteRef(ref))
        #expect(try store.readRef(ref) == nil)
        #expect(!FileManager.default.fileExists(atPath: store.root + "/refs/models"))
    }

    @Test func compareAndSwapDetectsConcurrentChange() throws {
        let store = try Store.create(at: scratch.file("s"))
        let a = try store.put([1], kind: .blob).id
        let b = try store.put([2], kind: .blob).id
        let ref = try RefName("runs/r/head")
        try store.updateRef(ref, to: a, expected: .some(nil))
        #expect(throws: StoreError.self) { try store.updateRef(ref, to: b, expected: .some(nil)) }
        #expect(throws: StoreError.self) { try store.updateRef(ref, to: b, expected: b) }
        try store.updateRef(ref, to: b, expected: a)
        #expect(try store.readRef(ref) == b)
    }

    @Test func aRefCannotAlsoBeADirectory() throws {
        let store = try Store.create(at: scratch.file("s"))
        let a = try store.put([1], kind: .blob).id
        try store.updateRef(try RefName("models/x"), to: a)
        #expect(throws: StoreError.self) { try store.updateRef(try RefName("models/x/y"), to: a) }
        #expect(throws: StoreError.self) { try store.updateRef(try RefName("models"), to: a) }
    }
}

@Suite struct JournalTests {
    let scratch = ScratchDirectory("journal")

    @Test func appendsAndReadsLines() throws {
        let store = try Store.create(at: scratch.file("s"))
        try store.appendJournal(run: "r1", ["stage": "tokenize", "step": 0])
        try store.appendJournal(run: "r1", ["stage": "rollout", "step": 1, "text": "line\nbreak"])
        let lines = try store.readJournal(run: "r1")
        #expect(lines.count == 2)
        #expect(lines[1]["text"]?.stringValue == "line\nbreak")
        #expect(try store.journalRuns() == ["r1"])
        #expect(throws: StoreError.self) { try store.appendJournal(run: "../x", ["a": 1]) }
        #expect(throws: StoreError.self) { try store.appendJournal(run: "a/b", ["a": 1]) }
    }

    @Test func tornTailIsIgnoredThenCut() throws {
        let store = try Store.create(at: scratch.file("s"))
        try store.appendJournal(run: "r", ["n": 1])
        let path = store.root + "/journal/r.jsonl"
        let h = try #require(FileHandleOpen(path))
        h.seekToEndOfFile()
        h.write(Data("{\"n\": 2, \"trunc".utf8))
        h.closeFile()
        #expect(try store.readJournal(run: "r").count == 1)
        try store.appendJournal(run: "r", ["n": 3])
        #expect(try store.readJournal(run: "r").map { $0["n"]?.intValue } == [1, 3])
    }

    @Test func aBadCompleteLineIsAnErrorNamingTheLine() throws {
        let store = try Store.create(at: scratch.file("s"))
        try store.appendJournal(run: "r", ["n": 1])
        let path = store.root + "/journal/r.jsonl"
        let h = try #require(FileHandleOpen(path))
        h.seekToEndOfFile()
        h.write(Data("not json\n".utf8))
        h.closeFile()
        do {
            _ = try store.readJournal(run: "r")
            Issue.record("bad line accepted")
        } catch let e as StoreError {
            #expect(e.description.contains("line 2"))
        }
    }
}

@Suite struct GCTests {
    let scratch = ScratchDirectory("gc")

    @Test func sweepsOnlyUnreachableOldObjects() throws {
        let store = try Store.create(at: scratch.file("s"))
        let kept = try store.put([1], kind: .blob).id
        let child = try store.put([2], kind: .tensor, tag: 2).id
        let provenance = try store.put([3], kind: .blob).id
        let manifest = try store.putManifest(["format": "test", "parts": [["name": "w", "id": .string(child.hex)]],
                                              "parent": .string(provenance.hex), "metadata": ["id": .string(provenance.hex)]])
        let journalled = try store.put([4], kind: .blob).id
        let garbage = try store.put([5], kind: .blob).id
        try store.updateRef(try RefName("models/k"), to: kept)
        try store.updateRef(try RefName("models/m"), to: manifest)
        try store.appendJournal(run: "r", ["stage": "x", "outputs": ["a": .string(journalled.hex)]])

        // Young objects survive the grace period.
        var report = try store.gc(dryRun: false)
        #expect(report.removed.isEmpty && report.keptYoung == 2)

        report = try store.gc(dryRun: true, graceSeconds: 0)
        #expect(Set(report.removed.map(\.id)) == [garbage, provenance])
        #expect(store.contains(garbage))

        report = try store.gc(dryRun: false, graceSeconds: 0)
        #expect(Set(report.removed.map(\.id)) == [garbage, provenance])
        for id in [kept, child, manifest, journalled] { #expect(store.contains(id)) }
        #expect(!store.contains(garbage) && !store.contains(provenance))
        #expect(try store.verify().ok)
    }

    @Test func refusesToSweepWhenAReachableManifestIsUnreadable() throws {
        let store = try Store.create(at: scratch.file("s"))
        let child = try store.put([2], kind: .blob).id
        let manifest = try store.put(Array("{\"id\": \"\(child.hex)\"} trailing".utf8), kind: .manifest).id
        try store.updateRef(try RefName("models/m"), to: manifest)
        #expect(throws: StoreError.self) { try store.gc(dryRun: false, graceSeconds: 0) }
        #expect(store.contains(child))
    }

    @Test func removesDeadWritersTemporaryFilesOnly() throws {
        let store = try Store.create(at: scratch.file("s"))
        // A live writer: this process's own session directory.
        _ = try store.put([1], kind: .blob)
        let tmp = store.root + "/tmp"
        let live = try FileManager.default.contentsOfDirectory(atPath: tmp)
        #expect(live.count == 1)
        // A dead writer's leftovers: a session directory whose lock nobody holds.
        let dead = tmp + "/w-99999-dead"
        try FileManager.default.createDirectory(atPath: dead, withIntermediateDirectories: true)
        FileManager.default.createFile(atPath: dead + "/.lock", contents: Data())
        FileManager.default.createFile(atPath: dead + "/abc.1", contents: Data([1, 2, 3]))
        // A writer caught between its directory's mkdir and its lock (not yet named w-…; a lock
        // file nobody holds yet) stays while its process lives, even with no grace period: here
        // this process's pid. The same left by a process that is gone goes at once (pid 2³¹ − 1
        // is above Linux's pid_max), and any starting directory goes once a minute old.
        let me = getpid()
        let starting = tmp + "/n-\(me)-starting", gone = tmp + "/n-2147483647-gone", stale = tmp + "/n-\(me)-stale"
        for dir in [starting, gone, stale] { try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true) }
        FileManager.default.createFile(atPath: starting + "/.lock", contents: Data())
        var old = [timespec(tv_sec: time(nil) - 120, tv_nsec: 0), timespec(tv_sec: time(nil) - 120, tv_nsec: 0)]
        #expect(utimensat(AT_FDCWD, stale, &old, 0) == 0)
        let report = try store.gc(dryRun: false, graceSeconds: 0)
        #expect(report.removedTemporary.sorted() == ["n-2147483647-gone", "n-\(me)-stale", "w-99999-dead"].sorted())
        #expect(try FileManager.default.contentsOfDirectory(atPath: tmp).sorted() == (live + ["n-\(me)-starting"]).sorted())
    }

    /// A live writer (another process's locked session) keeps what it wrote since it began, even
    /// an object whose time equals the session's to the nanosecond: file times come from a coarse
    /// clock, so an object written in the tick the session began carries that very time.
    @Test func keepsWhatALiveWriterWroteInTheTickItBegan() throws {
        let store = try Store.create(at: scratch.file("s"))
        let session = store.root + "/tmp/w-99998-live"
        try FileManager.default.createDirectory(atPath: session, withIntermediateDirectories: true)
        let lock = try FileHandle.open(session + "/.lock", flags: O_WRONLY | O_CREAT)
        #expect(try lock.lock(exclusive: true))  // held: gc's own attempt on a new descriptor fails
        defer { lock.unlock() }
        var now = timespec()
        clock_gettime(CLOCK_REALTIME, &now)
        let start = timespec(tv_sec: now.tv_sec - 600, tv_nsec: 123_456_789)  // began ten minutes ago
        func setTime(_ path: String, _ t: timespec) {
            var times = [t, t]
            #expect(utimensat(AT_FDCWD, path, &times, 0) == 0)
        }
        setTime(session + "/.lock", start)
        let sameTick = try store.put([1], kind: .blob).id
        let before = try store.put([2], kind: .blob).id
        setTime(store.objectPath(sameTick), start)
        setTime(store.objectPath(before), timespec(tv_sec: start.tv_sec, tv_nsec: start.tv_nsec - 4_000_000))
        let report = try store.gc(dryRun: false, graceSeconds: 0)
        #expect(report.removed.map(\.id) == [before])
        #expect(store.contains(sameTick) && !store.contains(before))
    }

    @Test func verifyNamesWhatNeedsAMissingObject() throws {
        let store = try Store.create(at: scratch.file("s"))
        let child = try store.put([2, 3], kind: .tensor, tag: 2).id
        let manifest = try store.putManifest(["format": "test", "tensors": [["name": "model.norm.weight", "id": .string(child.hex)]]])
        try store.updateRef(try RefName("models/m"), to: manifest)
        chmod(store.objectPath(child), 0o644)
        try FileManager.default.removeItem(atPath: store.objectPath(child))
        let report = try store.verify()
        #expect(report.missing.map(\.id) == [child])
        let needs = report.missing.first?.neededBy.joined() ?? ""
        #expect(needs.contains("models/m") && needs.contains("model.norm.weight"))
    }
}

@Suite struct JSONValueTests {
    @Test func canonicalEncodingIsSortedAndStable() throws {
        let v: JSONValue = ["b": 1, "a": [true, nil, 1.5, "x\"y\n\u{1}é"], "c": ["z": 0, "y": -2]]
        #expect(v.canonical == #"{"a":[true,null,1.5,"x\"y\n\u0001é"],"b":1,"c":{"y":-2,"z":0}}"#)
        #expect(try JSONValue(parsing: v.canonical) == v)
        #expect(try JSONValue(parsing: v.pretty) == v)
    }

    @Test(arguments: ["", "{", "[1,]", "{\"a\":1,}", "01", "-01", "1.", "1e", "-", "\"\\x\"", "{\"a\":1,\"a\":2}", "[1] 2", "\"\\ud800\"",
                      "\"\\udc00\"", "\"\\ud800\\u0041\"", "\"\\u12\"", "\"\\u12g4\"", "nul", "tru", "[", "{\"a\":}", "{\"a\" 1}", "{1:2}",
                      "\"\u{01}\"", "\"abc", "[1 2]", "+1", ".5", "NaN"])
    func rejectsMalformedJSON(text: String) {
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: text) }
    }

    @Test func rejectsInvalidUTF8InStrings() throws {
        for bytes: [UInt8] in [[0x22, 0xFF, 0x22], [0x22, 0xC3, 0x22], [0x22, 0xED, 0xA0, 0x80, 0x22], [0x22, 0x5C, 0x6E, 0xF0, 0x9F, 0x98, 0x22]] {
            let error = #expect(throws: JSONValue.ParseError.self, "\(bytes)") { try JSONValue(parsing: bytes) }
            #expect(error?.message == "invalid UTF-8 in string")
        }
        #expect(try JSONValue(parsing: [0x22, 0xC3, 0xA9, 0x5C, 0x6E, 0xC3, 0xA9, 0x22]) == .string("é\né"))
    }

    /// Hostile nesting is an error at the depth limit, not a stack overflow.
    @Test func limitsNestingDepth() throws {
        for open in ["[", "{\"a\":"] {
            let error = #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: String(repeating: open, count: 100_000)) }
            #expect(error?.message == "nesting deeper than 512")
        }
        let deepest = String(repeating: "[", count: 512) + String(repeating: "]", count: 512)
        #expect(try JSONValue(parsing: deepest).canonical == deepest)
        #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: "[" + deepest + "]") }
    }

    @Test func errorsGiveLineAndColumn() {
        let error = #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: "{\"é\": 1,\n  \"b\": 2,\n  \"é\": 3}") }
        #expect(error?.description == "line 3, column 3: duplicate key 'é'")
        let trailing = #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: "[1, 2] x") }
        #expect(trailing?.description == "line 1, column 8: unexpected text after the JSON value")
    }

    @Test func parsesNumbersAndEscapes() throws {
        #expect(try JSONValue(parsing: "9007199254740993") == .int(9007199254740993))
        #expect(try JSONValue(parsing: "-1.5e-3") == .double(-0.0015))
        #expect(try JSONValue(parsing: #""\u00e9\ud83d\ude00\/""#) == .string("é😀/"))
        #expect(try JSONValue(parsing: "[0, -0, -12, 3.5, 1e3, -0.25E-2, 123456789012345678, -9223372036854775808, 1e400]")
            == [0, 0, -12, 3.5, 1000.0, -0.0025, 123456789012345678, .int(Int.min), .double(.infinity)])
        #expect(try JSONValue(parsing: "92233720368547758070") == .double(92233720368547758070.0))
        #expect(try JSONValue(parsing: #" {"s": "a\u00e9\n\t\"\\\/\b\fé"} "#) == ["s": "aé\n\t\"\\/\u{08}\u{0C}é"])
        let error = #expect(throws: JSONValue.ParseError.self) { try JSONValue(parsing: "{\n  \"a\": tru\n}") }
        #expect(error?.line == 2)
    }
}

func FileHandleOpen(_ path: String) -> Foundation.FileHandle? {
    Foundation.FileHandle(forWritingAtPath: path)
}
