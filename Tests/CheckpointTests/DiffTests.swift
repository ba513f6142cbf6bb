// ckpt diff statistics on cases whose answers follow from the definitions, and sharing of
// unchanged tensors between sets.

import Foundation
import Testing
import TestSupport
import Tensors
@testable import Checkpoint
@testable import ShardStore

@Suite struct DiffTests {
    let scratch = ScratchDirectory("diff")

    func set(_ store: Store, _ tensors: [(String, Tensor)]) throws -> TensorSet {
        let id = try store.putTensorSet(try tensors.map { try store.putTensor(name: $0.0, $0.1) })
        return try store.tensorSet(id)
    }

    @Test func statisticsFollowTheirDefinitions() throws {
        let store = try Store.create(at: scratch.file("s"))
        let big = (0..<100_000).map { Float(($0 % 17) - 8) }
        let a = try set(store, [("w", Tensor(f32: [3, 4], shape: [2])), ("u", Tensor(f32: [1, 0], shape: [2])),
                                ("same", Tensor(f32: big, shape: [100, 1000])), ("gone", Tensor(f32: [1], shape: [1])),
                                ("ids", Tensor(dtype: .i32, shape: [3], buffer: ByteBuffer(copying: [1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0])))])
        let b = try set(store, [("w", Tensor(f32: [0, 0], shape: [2])), ("u", Tensor(f32: [0, 1], shape: [2])),
                                ("same", Tensor(f32: big, shape: [100, 1000])), ("new", Tensor(f32: [2], shape: [1])),
                                ("ids", Tensor(dtype: .i32, shape: [3], buffer: ByteBuffer(copying: [1, 0, 0, 0, 9, 0, 0, 0, 3, 0, 0, 0])))])
        let d = try store.diff(a, b)
        let byName = Dictionary(uniqueKeysWithValues: d.tensors.map { ($0.name, $0) })
        let w = try #require(byName["w"])
        #expect(w.status == .changed)
        #expect(w.l2Diff == 5)          // ‖(3,4)‖
        #expect(w.relChange == 1)       // ‖A−B‖/‖A‖ with B = 0
        #expect(w.maxAbsDiff == 4)
        #expect(w.cosine == nil)        // undefined against a zero vector
        let u = try #require(byName["u"])
        #expect(abs(u.l2Diff! - 2.0.squareRoot()) < 1e-15)
        #expect(u.cosine == 0)
        #expect(byName["same"]?.status == .identical)
        #expect(byName["gone"]?.status == .onlyA)
        #expect(byName["new"]?.status == .onlyB)
        #expect(byName["ids"]?.status == .changed && byName["ids"]?.differingElements == 1 && byName["ids"]?.maxAbsDiff == 7)
        // The unchanged 400 KB tensor is one object shared by both sets.
        #expect(d.sharedBytes == 400_000)
    }

    @Test func setsDifferingInOneTensorShareEveryOtherObject() throws {
        let store = try Store.create(at: scratch.file("s"))
        var tensors: [(String, Tensor)] = (0..<6).map { i in
            ("layer.\(i).weight", Tensor(f32: (0..<1000).map { Float($0 * (i + 1)) }, shape: [10, 100]))
        }
        let a = try set(store, tensors)
        let objectsBefore = try store.allObjectIDs().count
        tensors[3].1 = Tensor(f32: (0..<1000).map { Float($0) * -1 }, shape: [10, 100])
        let b = try set(store, tensors)
        #expect(try store.allObjectIDs().count == objectsBefore + 2)  // one tensor object + one manifest
        let d = try store.diff(a, b)
        #expect(d.tensors.filter { $0.status == .changed }.map(\.name) == ["layer.3.weight"])
        #expect(d.sharedBytes == 5 * 4000)
        let changed = d.tensors.first { $0.status == .changed }!
        // A = k·x with k = 4, B = −x: cosine −1, ‖A−B‖/‖A‖ = 5/4.
        #expect(abs(changed.cosine! + 1) < 1e-12)
        #expect(abs(changed.relChange! - 1.25) < 1e-12)
    }

    @Test func loadingACorruptTensorNamesIt() throws {
        let store = try Store.create(at: scratch.file("s"))
        let s = try set(store, [("model.norm.weight", Tensor(f32: [1, 2, 3, 4], shape: [4]))])
        let path = store.objectPath(s.tensors[0].chunks[0].id)
        chmod(path, 0o644)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[66] ^= 1
        try data.write(to: URL(fileURLWithPath: path))
        do {
            _ = try store.loadTensor(s.tensors[0])
            Issue.record("corrupt tensor loaded")
        } catch {
            #expect("\(error)".contains("model.norm.weight"))
            #expect("\(error)".contains(s.tensors[0].chunks[0].id.hex))
        }
        #expect(throws: (any Error).self) { try store.exportSafetensors(s, to: scratch.file("x.safetensors")) }
        #expect(!FileManager.default.fileExists(atPath: scratch.file("x.safetensors")))
    }
}
