// Hostile checkpoint inputs (issue [reliability] 4): shape products that overflow, offsets past
// the end, sizes that would allocate gigabytes from a few bytes. Each is refused with an input
// error naming the file (or object, or tensor) and the problem; none traps or allocates the claim.

import Foundation
import Testing
import TestSupport
import Tensors
@testable import Checkpoint
@testable import ShardStore

@Suite struct HostileCheckpointInputTests {
    let scratch = ScratchDirectory("hostile-checkpoint")

    /// A safetensors file: 8-byte length, the header text, then `data` bytes.
    func safetensors(_ header: String, data: Int = 0) throws -> String {
        var bytes = withUnsafeBytes(of: UInt64(header.utf8.count).littleEndian, Array.init) + Array(header.utf8)
        bytes += [UInt8](repeating: 0, count: data)
        let path = scratch.file("hostile-\(UInt32.random(in: 0...UInt32.max)).safetensors")
        try Data(bytes).write(to: URL(fileURLWithPath: path))
        return path
    }

    func expectRefusal(_ path: String, _ fragment: String) {
        #expect {
            _ = try SafetensorsFile(path: path)
        } throws: { e in
            guard let e = e as? CheckpointError, case let .badSafetensors(p, reason) = e else { return false }
            return p == path && reason.contains(fragment) && (e as any ClassifiedError).errorClass == .input
        }
    }

    @Test func safetensorsShapesWhoseProductOverflowsAreRefused() throws {
        // (The last is empty, but its product overflows before the 0: refused too.)
        for shape in ["[4294967296, 4294967296]", "[3037000500, 3037000500]", "[2305843009213693952]", "[9223372036854775807, 2, 0]"] {
            let path = try safetensors(#"{"w": {"dtype": "F32", "shape": \#(shape), "data_offsets": [0, 0]}}"#)
            expectRefusal(path, "tensor 'w': shape")
        }
    }

    @Test func safetensorsOffsetsPastTheEndAreRefused() throws {
        expectRefusal(try safetensors(#"{"w": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}"#, data: 4), "run past the 4-byte data section")
        expectRefusal(try safetensors(#"{"w": {"dtype": "U8", "shape": [1], "data_offsets": [9223372036854775806, 9223372036854775807]}}"#, data: 1), "run past")
        // A header length past the end of the file, and one of terabytes.
        for length: UInt64 in [1 << 20, 1 << 40, UInt64.max] {
            let path = scratch.file("length-\(length).safetensors")
            try Data(withUnsafeBytes(of: length.littleEndian, Array.init) + Array("{}".utf8)).write(to: URL(fileURLWithPath: path))
            expectRefusal(path, "header length")
        }
    }

    // MARK: tensor-set manifests

    func manifest(_ tensors: String) throws -> JSONValue {
        try JSONValue(parsing: #"{"format": "bridge-tensor-set", "version": 1, "tensors": [\#(tensors)], "metadata": {}, "parent": null}"#)
    }

    func expectManifestRefusal(_ tensors: String, _ fragment: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let id = ObjectID(high: 1, low: 2)
        let json = try manifest(tensors)
        #expect(sourceLocation: sourceLocation) {
            _ = try TensorSet(json: json, id: id)
        } throws: { e in
            guard case let .notATensorSet(i, reason) = e as? CheckpointError else { return false }
            return i == id && reason.contains(fragment)
        }
    }

    @Test func manifestSizesThatOverflowAreRefused() throws {
        let chunk = #"{"id": "00000000000000000000000000000001", "bytes": 4611686018427387904}"#
        // 2^61 f32 elements: the element count fits, the byte count does not.
        try expectManifestRefusal(#"{"name": "w", "dtype": "f32", "shape": [2305843009213693952], "bytes": 0, "chunks": [\#(chunk)]}"#,
                                  "tensor 'w': f32[2305843009213693952] has more bytes than a 64-bit size can count")
        // Chunks whose sizes add up past Int.max.
        try expectManifestRefusal(#"{"name": "w", "dtype": "u8", "shape": [4611686018427387904], "bytes": 0, "chunks": [\#(chunk), \#(chunk)]}"#,
                                  "tensor 'w': chunk sizes overflow")
        // Element counts that overflow.
        try expectManifestRefusal(#"{"name": "w", "dtype": "u8", "shape": [4294967296, 4294967296], "bytes": 0, "chunks": [\#(chunk)]}"#,
                                  "tensor 'w': bad shape")
        // Two tensors of 2^62 bytes each: each is fine, the set's total is not.
        let big = #""dtype": "u8", "shape": [4611686018427387904], "bytes": 4611686018427387904, "chunks": [\#(chunk)]"#
        try expectManifestRefusal("{\"name\": \"a\", \(big)}, {\"name\": \"b\", \(big)}, {\"name\": \"c\", \(big)}",
                                  "the tensors' sizes add up to more bytes than a 64-bit size can count")
    }

    /// A manifest of a few hundred bytes claiming a terabyte tensor made of two tiny objects: the
    /// chunk headers are checked before the tensor's buffer is allocated.
    @Test func manifestClaimsAreCheckedAgainstTheObjectsBeforeAllocating() throws {
        let store = try Store.create(at: scratch.file("store"))
        let small = try [UInt8](repeating: 7, count: 16).withUnsafeBytes { try store.putTensor(name: "x", dtype: .u8, shape: [16], bytes: $0) }
        let id = small.chunks[0].id
        let half = 1 << 39
        let json = try manifest(#"{"name": "huge", "dtype": "u8", "shape": [\#(2 * half)], "bytes": \#(2 * half), "chunks": [{"id": "\#(id.hex)", "bytes": \#(half)}, {"id": "\#(id.hex)", "bytes": \#(half)}]}"#)
        let set = try TensorSet(json: json, id: ObjectID(high: 3, low: 4))
        #expect {
            _ = try store.loadTensor(set.tensors[0])
        } throws: { e in
            guard case let .corruptObject(bad, _, reason) = e as? StoreError else { return false }
            return bad == id && reason.contains("holds 16 bytes, the manifest says \(half)") && reason.contains("tensor 'huge'")
        }
    }

    // MARK: llama2.c and config.json

    func llama2cHeader(_ values: [Int32], floats: Int = 0) -> [UInt8] {
        values.flatMap { withUnsafeBytes(of: $0.littleEndian, Array.init) } + [UInt8](repeating: 0, count: 4 * floats)
    }

    @Test func llama2cHeadersThatWouldAllocateGigabytesAreRefused() throws {
        let store = try Store.create(at: scratch.file("store-l2c"))
        let tokenizer = fixtures.appendingPathComponent("stories260k/tok512.bin").path
        let cases: [([Int32], String)] = [
            ([Int32.max, Int32.max, Int32.max, 1, 1, Int32.max, Int32.max], "implausible header"),
            ([Int32.min, 8, 1, 2, 2, 512, 8], "implausible header"),
            ([4096, 11008, 32, 32, 32, 32000, 2048], "the header [4096, 11008, 32, 32, 32, 32000, 2048] implies"),   // 7B claims, 28-byte file
            ([64, 172, 5, 8, 4, -512, 512], "implies"),
        ]
        for (header, fragment) in cases {
            let path = scratch.file("model-\(header[0]).bin")
            try Data(llama2cHeader(header, floats: 10)).write(to: URL(fileURLWithPath: path))
            #expect {
                _ = try store.importLlama2c(file: path, tokenizer: tokenizer)
            } throws: { e in
                guard case let .badFile(p, reason) = e as? ModelCheckpointError else { return false }
                return p == path && reason.contains(fragment)
            }
        }
    }

    /// config.json dimensions whose shape products overflow, or that would make billions of layers.
    @Test func configDimensionsThatOverflowAreRefused() throws {
        let store = try Store.create(at: scratch.file("store-hf"))
        let base = #""model_type": "llama", "vocab_size": 64, "hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4"#
        let cases: [(String, String)] = [
            (#""model_type": "llama", "vocab_size": 1099511627776, "hidden_size": 1099511627776, "intermediate_size": 32, "num_hidden_layers": 2, "num_attention_heads": 4"#, "'vocab_size'"),
            (base.replacingOccurrences(of: #""num_hidden_layers": 2"#, with: #""num_hidden_layers": 1000000000"#), "'num_hidden_layers'"),
            (base + #", "head_dim": 4611686018427387904"#, "'head_dim'"),
            (#""model_type": "llama", "vocab_size": 16777216, "hidden_size": 65536, "intermediate_size": 1048576, "num_hidden_layers": 4096, "num_attention_heads": 4096, "head_dim": 4096"#,
             "parameters, more than"),
        ]
        for (i, (keys, fragment)) in cases.enumerated() {
            let dir = scratch.file("hf-\(i)")
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            try Data("{\(keys)}".utf8).write(to: URL(fileURLWithPath: dir + "/config.json"))
            #expect {
                _ = try store.importHuggingFace(directory: dir)
            } throws: { e in
                guard let e = e as? ModelCheckpointError, case .model = e else { return false }
                return e.description.contains(dir + "/config.json") && e.description.contains(fragment)
            }
        }
    }
}
