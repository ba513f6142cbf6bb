// AdamW moments as a tensor set: for each parameter `<name>` of a flat layout, tensors
// `exp_avg.<name>` and `exp_avg_sq.<name>` (torch.optim.AdamW's state names), f32, plus metadata
// {"optimizer": "adamw", "step": n}. θ's optimizer and w's optimizer are just two such sets.

import LanguageModel
import ShardStore
import Tensors

public struct OptimizerState {
    /// First and second moments in the layout's order.
    public let m: FloatBuffer
    public let v: FloatBuffer
    /// Steps taken.
    public let step: Int
}

extension Store {
    /// Stores moments laid out like `entries` (a ParameterLayout's or a LoRALayout's). Full copies
    /// are `shuffle-lz4`, not raw: moments are read once per step (decoded at ≥ 1 GB/s), never
    /// computed on in place, and their slowly moving exponents group well (on a 25M-parameter run
    /// m shrinks ~7% and v ~11% where a delta against the previous step saves too little).
    public func putOptimizerState(m: FloatBuffer, v: FloatBuffer, step: Int, entries: [ParameterLayout.Entry],
                                  metadata extra: [String: JSONValue] = [:], parent: ObjectID? = nil, deltaBase: TensorSet? = nil) throws -> TensorSet {
        var items: [(name: String, tensor: Tensor)] = []
        for e in entries {
            items.append((name: "exp_avg." + e.name, tensor: m.tensor(shape: e.shape, offset: e.offset)))
            items.append((name: "exp_avg_sq." + e.name, tensor: v.tensor(shape: e.shape, offset: e.offset)))
        }
        var metadata = extra
        metadata["optimizer"] = "adamw"
        metadata["step"] = .int(step)
        var set = TensorSet(tensors: try putTensors(items, bases: deltaBase, floatCodec: .shuffleLZ4), metadata: metadata, parent: parent)
        set.id = try putTensorSet(set)
        return set
    }

    /// Checks an AdamW state set against the layout of `entries` without reading its tensors: the
    /// metadata, every moment present with its parameter's shape, nothing else. Returns the step.
    @discardableResult
    public func checkOptimizerState(_ set: TensorSet, entries: [ParameterLayout.Entry]) throws -> Int {
        guard set.metadata["optimizer"]?.stringValue == "adamw", let step = set.metadata["step"]?.intValue, step >= 0 else {
            throw ModelCheckpointError.notAModel("tensor set \(set.id?.hex.prefix(12) ?? "") (no AdamW state: metadata.optimizer/step missing)")
        }
        var missing: [String] = []
        for e in entries {
            for name in ["exp_avg." + e.name, "exp_avg_sq." + e.name] {
                guard let entry = set.entry(name) else { missing.append(name); continue }
                guard entry.shape == e.shape else {
                    throw ModelCheckpointError.model(.shapeMismatch(name: name, expected: e.shape, got: entry.shape), context: "optimizer state")
                }
            }
        }
        if !missing.isEmpty { throw ModelCheckpointError.model(.missingTensors(missing), context: "optimizer state") }
        let expected = Set(entries.flatMap { ["exp_avg." + $0.name, "exp_avg_sq." + $0.name] })
        let unused = set.tensors.map(\.name).filter { !expected.contains($0) }
        if !unused.isEmpty { throw ModelCheckpointError.model(.unusedTensors(unused), context: "optimizer state") }
        return step
    }

    /// Reads moments back into the layout of `entries` (checked first, `checkOptimizerState`).
    public func loadOptimizerState(_ set: TensorSet, entries: [ParameterLayout.Entry]) throws -> OptimizerState {
        let step = try checkOptimizerState(set, entries: entries)
        let count = entries.map { $0.offset + $0.count }.max() ?? 0
        let m = FloatBuffer(count: count), v = FloatBuffer(count: count)
        let wanted = entries.flatMap { e in [("exp_avg." + e.name, m), ("exp_avg_sq." + e.name, v)].map { (e: e, name: $0.0, buffer: $0.1, entry: set.entry($0.0)!) } }
        // the moments decoded on all cores, each copied into place as soon as it is read (no more
        // than one decoded tensor per core held beside m and v)
        try parallelForThrowing(wanted.count) { i in
            let w = wanted[i], t = try loadTensor(w.entry)
            guard t.shape == w.e.shape, t.dtype == .f32, let f = FloatBuffer(borrowing: t) ?? FloatBuffer.converting(t) else {
                throw ModelCheckpointError.model(.shapeMismatch(name: w.name, expected: w.e.shape, got: t.shape), context: "optimizer state")
            }
            (w.buffer.pointer + w.e.offset).update(from: f.readPointer, count: w.e.count)
        }
        return OptimizerState(m: m, v: v, step: step)
    }
}
