// Named tensors ⇄ the flat parameter buffer. Every name the layout expects must be present with
// its shape, and every given tensor must be used; f32 is copied, bf16/f16 are converted.

import Tensors

extension ParameterLayout {
    /// Builds θ from tensors named as in Hugging Face checkpoints. With tied embeddings a stored
    /// `lm_head.weight` is accepted only when it equals `model.embed_tokens.weight`.
    public func assemble(_ tensors: [String: Tensor]) throws(ModelError) -> FloatBuffer {
        let buffer = FloatBuffer(count: totalCount)
        var missing: [String] = []
        for e in entries {
            guard let t = tensors[e.name] else { missing.append(e.name); continue }
            try copy(t, name: e.name, shape: e.shape, into: buffer.pointer + e.offset)
        }
        if !missing.isEmpty { throw .missingTensors(missing) }
        var unused = tensors.keys.filter { entry(named: $0) == nil }.sorted()
        if let i = unused.firstIndex(of: "lm_head.weight"), lmHead == embedTokens, let t = tensors["lm_head.weight"] {
            let e = entry(named: "model.embed_tokens.weight")!
            let head = FloatBuffer(count: e.count)
            try copy(t, name: "lm_head.weight", shape: e.shape, into: head.pointer)
            if head.array == buffer.array(offset: e.offset, count: e.count) { unused.remove(at: i) }
        }
        if !unused.isEmpty { throw .unusedTensors(unused) }
        return buffer
    }

    private func copy(_ t: Tensor, name: String, shape: [Int], into dst: UnsafeMutablePointer<Float>) throws(ModelError) {
        guard t.shape == shape else { throw .shapeMismatch(name: name, expected: shape, got: t.shape) }
        guard [.f32, .bf16, .f16].contains(t.dtype), let f = FloatBuffer.converting(t) else {
            throw .unsupportedDType(name: name, dtype: t.dtype.rawValue)
        }
        dst.update(from: f.readPointer, count: f.count)
    }

    /// θ as named f32 tensors, in layout order (copies).
    public func tensors(of params: FloatBuffer) -> [(String, Tensor)] {
        entries.map { ($0.name, params.tensor(shape: $0.shape, offset: $0.offset)) }
    }
}

extension LoRALayout {
    /// Adapter weights from PEFT-named tensors (`base_model.model.…lora_A.weight`); the
    /// adapter-name segment `.default` of in-memory PEFT names is accepted too.
    public func assemble(_ tensors: [String: Tensor]) throws(ModelError) -> FloatBuffer {
        var byName: [String: Tensor] = [:]
        for (k, v) in tensors { byName[k.replacingOccurrences(of: ".default.", with: ".")] = v }
        let buffer = FloatBuffer(count: totalCount)
        var missing: [String] = []
        for e in entries {
            guard let t = byName[e.name] else { missing.append(e.name); continue }
            guard t.shape == e.shape else { throw .shapeMismatch(name: e.name, expected: e.shape, got: t.shape) }
            guard let f = FloatBuffer.converting(t), t.dtype.isFloatingPoint else { throw .unsupportedDType(name: e.name, dtype: t.dtype.rawValue) }
            (buffer.pointer + e.offset).update(from: f.readPointer, count: e.count)
        }
        if !missing.isEmpty { throw .missingTensors(missing) }
        let known = Set(entries.map(\.name))
        let unused = byName.keys.filter { !known.contains($0) }.sorted()
        if !unused.isEmpty { throw .unusedTensors(unused) }
        return buffer
    }

    public func tensors(of params: FloatBuffer) -> [(String, Tensor)] {
        entries.map { ($0.name, params.tensor(shape: $0.shape, offset: $0.offset)) }
    }
}
