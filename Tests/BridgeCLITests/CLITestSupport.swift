// Helpers for driving the `bridge` executable: a store in a scratch directory, safetensors files
// made with the library's writer, and JSON output parsing.

import Foundation
import Testing
import TestSupport
import Tensors
import Checkpoint
import ShardStore

struct CLI {
    let scratch: ScratchDirectory
    var store: String { scratch.file("store") }

    init(_ label: String) throws {
        scratch = ScratchDirectory(label)
        let r = try runBridge(["init", "--store", scratch.file("store")])
        precondition(r.status == 0, r.stderr)
    }

    @discardableResult
    func run(_ args: [String], expect status: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> ProcessResult {
        let r = try runBridge(args + ["--store", store])
        #expect(r.status == status, "bridge \(args.joined(separator: " ")) exited \(r.status): \(r.stderr)", sourceLocation: sourceLocation)
        return r
    }

    func json(_ args: [String], expect status: Int32 = 0, sourceLocation: SourceLocation = #_sourceLocation) throws -> JSONValue {
        let r = try run(args + ["--json"], expect: status, sourceLocation: sourceLocation)
        return try JSONValue(parsing: r.stdout)
    }
}

/// Writes a safetensors file of `count` f32 tensors of `elements` elements each; tensor i's data
/// depends on (seed, i), so files with the same seed share every tensor.
func writeSafetensors(_ path: String, count: Int, elements: Int, seed: UInt64, override: [Int: UInt64] = [:]) throws {
    var tensors: [(String, Tensor)] = []
    for i in 0..<count {
        // Finite values in [-1, 1) from 24 random bits each.
        let bits = pseudoRandomBytes(elements * 4, seed: override[i] ?? (seed &* 1000 &+ UInt64(i)))
        let values = bits.withUnsafeBytes { raw in
            (0..<elements).map { Float(raw.loadUnaligned(fromByteOffset: 4 * $0, as: UInt32.self) >> 8) / Float(1 << 23) - 1 }
        }
        tensors.append(("model.layers.\(i).mlp.up_proj.weight", Tensor(f32: values, shape: [elements])))
    }
    try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: path)
}

/// Every object file in the store parses and hashes to its name (no visible partial object).
func allObjectsAreWhole(_ storePath: String) throws -> Bool {
    let store = try Store(at: storePath)
    return try store.verify().corrupt.isEmpty
}
