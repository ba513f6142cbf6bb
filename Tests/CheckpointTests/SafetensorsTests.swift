// safetensors files from the reference library: read, imported, exported byte-identically; and
// every kind of lying or malformed header rejected with an error that names the problem.

import Foundation
import Testing
import TestSupport
import Tensors
@testable import Checkpoint
@testable import ShardStore

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

struct Expected {
    let dtype: DType
    let shape: [Int]
    let bytes: [UInt8]
}

/// What the reference library read back from the fixture, by tensor name.
func expectedTensors() throws -> ([String: Expected], [String: String]) {
    let data = try Data(contentsOf: fixtures.appendingPathComponent("all_dtypes.json"))
    let json = try JSONValue(parsing: Array(data))
    let torchNames: [String: DType] = ["float32": .f32, "float64": .f64, "float16": .f16, "bfloat16": .bf16,
                                       "float8_e4m3fn": .f8e4m3, "float8_e5m2": .f8e5m2, "int64": .i64, "int32": .i32,
                                       "int16": .i16, "int8": .i8, "uint8": .u8, "bool": .bool]
    var out: [String: Expected] = [:]
    for (name, v) in json["tensors"]!.objectValue! {
        let hex = Array(v["hex"]!.stringValue!.utf8)
        let bytes = stride(from: 0, to: hex.count, by: 2).map { UInt8(hexValue(hex[$0])! << 4 | hexValue(hex[$0 + 1])!) }
        out[name] = Expected(dtype: torchNames[v["dtype"]!.stringValue!]!, shape: v["shape"]!.arrayValue!.map { $0.intValue! }, bytes: bytes)
    }
    let metadata = json["metadata"]!.objectValue!.mapValues { $0.stringValue! }
    return (out, metadata)
}

func bytes(of t: Tensor) -> [UInt8] { t.buffer.withUnsafeBytes { Array($0) } }

@Suite struct SafetensorsTests {
    let scratch = ScratchDirectory("safetensors")
    let fixture = fixtures.appendingPathComponent("all_dtypes.safetensors").path

    @Test func readsWhatTheReferenceLibraryWrote() throws {
        let (expected, metadata) = try expectedTensors()
        let file = try SafetensorsFile(path: fixture)
        #expect(Set(file.names) == Set(expected.keys))
        #expect(file.metadata == metadata)
        for (name, e) in expected {
            let t = try file.tensor(name)
            #expect(t.dtype == e.dtype, "\(name)")
            #expect(t.shape == e.shape, "\(name)")
            #expect(bytes(of: t) == e.bytes, "\(name)")
        }
    }

    @Test func storeRoundTripIsByteIdenticalForEveryTensor() throws {
        let (expected, metadata) = try expectedTensors()
        let store = try Store.create(at: scratch.file("s"))
        let set = try store.importSafetensors(path: fixture)
        let out = scratch.file("out.safetensors")
        try store.exportSafetensors(try store.tensorSet(set.id!), to: out)
        let back = try SafetensorsFile(path: out)
        #expect(back.metadata == metadata)
        #expect(Set(back.names) == Set(expected.keys))
        for (name, e) in expected {
            let t = try back.tensor(name)
            #expect(t.dtype == e.dtype && t.shape == e.shape && bytes(of: t) == e.bytes, "\(name)")
            let stored = try store.loadTensor(try #require(set.entry(name)))
            #expect(bytes(of: stored) == e.bytes, "\(name)")
        }
        // Our export is itself a canonical file: exporting the re-import gives the same bytes.
        let again = try store.importSafetensors(path: out)
        #expect(again.id == set.id)
        let out2 = scratch.file("out2.safetensors")
        try store.exportSafetensors(again, to: out2)
        #expect(FileManager.default.contents(atPath: out) == FileManager.default.contents(atPath: out2))
    }

    @Test func importingTwiceAddsNoObject() throws {
        let store = try Store.create(at: scratch.file("s"))
        let a = try store.importSafetensors(path: fixture)
        let before = try store.allObjectIDs()
        let b = try store.importSafetensors(path: fixture)
        #expect(a.id == b.id)
        #expect(try store.allObjectIDs() == before)
    }

    @Test func rawFloatTensorsAreMappedInPlace() throws {
        let store = try Store.create(at: scratch.file("s"))
        let set = try store.importSafetensors(path: fixture)
        let t = try store.loadTensor(try #require(set.entry("model.embed_tokens.weight")))
        #expect(!t.buffer.isMutable)  // borrowed from the memory map, not copied
        #expect(try store.header(set.entry("model.embed_tokens.weight")!.chunks[0].id).codec == .raw)
    }

    @Test func largeTensorsAreChunkedAtRowBoundaries() throws {
        // A store with a tiny chunk size; a [37, 29] f32 tensor (116-byte rows) splits into 4096-byte chunks.
        let root = scratch.file("s")
        var config = StoreConfig()
        config.chunkBytes = 4096
        let store = try Store.create(at: root, config: config)
        let values = (0..<(370 * 29)).map { Float($0) * 0.5 - 3 }
        let entry = try store.putTensor(name: "w", Tensor(f32: values, shape: [370, 29]))
        #expect(entry.chunks.count == 11)
        #expect(entry.chunks.dropLast().allSatisfy { $0.bytes % 116 == 0 && $0.bytes <= 4096 })
        let back = try store.loadTensor(entry)
        #expect(back.buffer.withUnsafeBytes { Array($0.bindMemory(to: Float.self)) } == values)
        let set = try store.putTensorSet([entry])
        let out = scratch.file("c.safetensors")
        try store.exportSafetensors(try store.tensorSet(set), to: out)
        #expect(bytes(of: try SafetensorsFile(path: out).tensor("w")) == bytes(of: back))
    }

    /// Rewrites the fixture's header with `edit` applied to its JSON (keeping the data section).
    func withHeader(_ edit: (inout [String: JSONValue]) -> Void, trailing: [UInt8] = [], dropData: Int = 0) throws -> String {
        let file = try Data(contentsOf: URL(fileURLWithPath: fixture))
        let n = Int(file.withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        var header = try JSONValue(parsing: Array(file[8..<(8 + n)])).objectValue!
        edit(&header)
        let json = Array(JSONValue.object(header).canonical.utf8)
        var out = withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json
        out += Array(file[(8 + n)...].dropLast(dropData)) + trailing
        let path = scratch.file("bad-\(UInt32.random(in: 0...UInt32.max)).safetensors")
        try Data(out).write(to: URL(fileURLWithPath: path))
        return path
    }

    func expectRejected(_ path: String, mentioning words: [String]) {
        do {
            _ = try SafetensorsFile(path: path)
            Issue.record("accepted a bad file; expected an error mentioning \(words)")
        } catch {
            let text = "\(error)"
            #expect(text.contains(path), "error does not name the file: \(text)")
            for w in words { #expect(text.contains(w), "error '\(text)' does not mention '\(w)'") }
        }
    }

    @Test func rejectsLyingHeaders() throws {
        func offsets(_ h: [String: JSONValue], _ name: String) -> (Int, Int) {
            let o = h[name]!["data_offsets"]!.arrayValue!
            return (o[0].intValue!, o[1].intValue!)
        }
        func setOffsets(_ h: inout [String: JSONValue], _ name: String, _ b: Int, _ e: Int) {
            var t = h[name]!.objectValue!
            t["data_offsets"] = [.int(b), .int(e)]
            h[name] = .object(t)
        }
        // Offsets beyond the file.
        expectRejected(try withHeader({ h in
            let (b, e) = offsets(h, "u8.odd65"); setOffsets(&h, "u8.odd65", b + 100_000, e + 100_000)
        }), mentioning: ["u8.odd65", "data"])
        // Overlapping ranges: two tensors claiming the same bytes.
        expectRejected(try withHeader({ h in
            let (b, e) = offsets(h, "u8.odd63")
            var t = h["u8.odd63"]!.objectValue!
            t["data_offsets"] = [.int(b), .int(e)]
            h["dup.u8"] = .object(t)
        }), mentioning: ["overlap"])
        // Byte count that does not match the shape.
        expectRejected(try withHeader({ h in
            var t = h["i32.ids"]!.objectValue!; t["shape"] = [11]; h["i32.ids"] = .object(t)
        }), mentioning: ["i32.ids", "bytes"])
        // Unknown dtype, negative shape, unknown key, non-string metadata.
        expectRejected(try withHeader({ h in
            var t = h["i8.v"]!.objectValue!; t["dtype"] = "Q4"; h["i8.v"] = .object(t)
        }), mentioning: ["i8.v", "Q4"])
        expectRejected(try withHeader({ h in
            var t = h["i8.v"]!.objectValue!; t["shape"] = [-3]; h["i8.v"] = .object(t)
        }), mentioning: ["i8.v", "shape"])
        expectRejected(try withHeader({ h in
            var t = h["i8.v"]!.objectValue!; t["scale"] = 1; h["i8.v"] = .object(t)
        }), mentioning: ["i8.v", "scale"])
        expectRejected(try withHeader({ h in h["__metadata__"] = ["n": 1] }), mentioning: ["__metadata__"])
        // Trailing bytes and a truncated data section.
        expectRejected(try withHeader({ _ in }, trailing: [1, 2, 3]), mentioning: ["after the last tensor"])
        expectRejected(try withHeader({ _ in }, dropData: 5), mentioning: ["data"])
    }

    @Test func rejectsBrokenFraming() throws {
        let good = try Data(contentsOf: URL(fileURLWithPath: fixture))
        func write(_ bytes: [UInt8]) throws -> String {
            let path = scratch.file("frame-\(UInt32.random(in: 0...UInt32.max)).safetensors")
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            return path
        }
        expectRejected(try write([1, 2, 3]), mentioning: ["too short"])
        expectRejected(try write(Array(good.prefix(100))), mentioning: ["past the end"])
        var absurd = Array(good)
        for i in 0..<8 { absurd[i] = 0xFF }
        expectRejected(try write(absurd), mentioning: ["limit"])
        let json = Array("{\"a\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [0, 4]".utf8)
        expectRejected(try write(withUnsafeBytes(of: UInt64(json.count).littleEndian) { Array($0) } + json + [0, 0, 0, 0]), mentioning: ["JSON"])
        let notObject = Array("[1, 2]  ".utf8)
        expectRejected(try write(withUnsafeBytes(of: UInt64(notObject.count).littleEndian) { Array($0) } + notObject), mentioning: ["'{'"])
        expectRejected(scratch.file("does-not-exist.safetensors"), mentioning: ["No such file"])
    }

    @Test func badImportWritesNothing() throws {
        let store = try Store.create(at: scratch.file("s"))
        let before = snapshot(store.root)
        let bad = try withHeader({ h in
            var t = h["i8.v"]!.objectValue!; t["dtype"] = "Q4"; h["i8.v"] = .object(t)
        })
        #expect(throws: CheckpointError.self) { try store.importSafetensors(path: bad) }
        #expect(snapshot(store.root) == before)
    }
}
