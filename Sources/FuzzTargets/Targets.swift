// The targets (see FuzzTarget.swift). Each names, in a refusal, what the user would look for: the
// file's path, the object's id or the manifest's name.

import Checkpoint
import LanguageModel
import Pipeline
import ShardStore
import Tensors
import Tokenizers

import struct Foundation.Data

extension FuzzTarget {
    /// A safetensors file (`bridge import hf`, adapters, goldens): header, then every tensor's bytes.
    static let safetensors = FuzzTarget(name: "safetensors", summary: "a .safetensors file → SafetensorsFile(path:), then every tensor") { ws, bytes in
        let path = ws.root + "/input.safetensors"
        defer { FuzzWorkspace.remove(path) }
        return steps(naming: path) {
            try FuzzWorkspace.write(bytes, to: path)
            let file = try SafetensorsFile(path: path)
            var sum: UInt8 = 0
            for e in file.entries {
                let t = try file.tensor(e.name)
                guard t.byteCount == e.byteCount else { throw FuzzFailure("tensor '\(e.name)' holds \(t.byteCount) bytes, its entry says \(e.byteCount)") }
                file.withBytes(of: e) { for b in $0 { sum &+= b } }
            }
            _ = sum
        }
    }

    /// A tensor-set manifest (a checkpoint): decoded, then every tensor loaded from the scratch
    /// store (which holds the objects the seeds name).
    static let tensorSet = FuzzTarget(name: "tensor-set", summary: "a tensor-set manifest → TensorSet(json:id:), then Store.loadTensor of each tensor") { ws, bytes in
        let id = ObjectHasher.id(of: bytes, kind: .manifest)
        guard let json = try? JSONValue(parsing: bytes) else { return .rejected("not JSON") }  // Store.readJSON's refusal
        let set: TensorSet
        do { set = try TensorSet(json: json, id: id) } catch { return refusal(error, naming: id.hex) }
        guard set.tensors.allSatisfy({ $0.byteCount >= 0 && $0.elementCount >= 0 }), set.byteCount >= 0 else {
            return .violation("negative sizes in an accepted tensor set")
        }
        let reread: TensorSet
        do { reread = try TensorSet(json: set.json, id: id) } catch { return .violation("an accepted set does not read back: \(error)") }
        guard reread.tensors == set.tensors else { return .violation("an accepted set reads back differently") }
        for entry in set.tensors.prefix(8) {
            let loaded = alsoChecking(.accepted, naming: "tensor '\(entry.name)'", [{ _ = try ws.store.loadTensor(entry, verify: true) }])
            if loaded != .accepted { return loaded }
        }
        return .accepted
    }

    /// A run state manifest (refs/runs/R/head): decoded; an accepted state must encode back to itself.
    static let runState = FuzzTarget(name: "run-state", summary: "a run-state manifest → RunState(json:name:), re-encoded") { _, bytes in
        guard let json = try? JSONValue(parsing: bytes) else { return .rejected("not JSON") }
        let name = "run state fuzz-input"
        let state: RunState
        do { state = try RunState(json: json, name: name) } catch { return refusal(error, naming: name) }
        guard let again = try? RunState(json: state.json, name: name), again == state else {
            return .violation("an accepted run state does not read back to itself: \(state.json)")
        }
        return .accepted
    }

    /// An object file in the store (objects/xx/<id>): header, chain depth, the decoded bytes (every
    /// codec, deltas against the seed objects) with and without verification, and the streamed read.
    /// The input is stored under the id its header names (bytes 32..<48), so that the id check passes.
    static let object = FuzzTarget(name: "object", summary: "an object file → Store.header/chainDepth/read/stream") { ws, bytes in
        let id = bytes.count >= 48 ? ObjectID(bytes: bytes[32..<48])! : ObjectID(high: 0x0bad_0b1e_c7f1_1e00, low: UInt64(bytes.count))
        let path = ws.store.objectPath(id)
        let original = ws.objectFiles[id]
        defer {
            FuzzWorkspace.remove(path)
            if let original { try? FuzzWorkspace.write(original, to: path) }
            Store.clearDecodedCache()
        }
        do {
            FuzzWorkspace.remove(path)
            try Posix.makeDirectory(Posix.parent(of: path))
            try FuzzWorkspace.write(bytes, to: path)
        } catch {
            return .violation("cannot write the input: \(error)")
        }
        return alsoChecking(.accepted, naming: id.hex, [
            { _ = try ws.store.header(id) },
            { _ = try ws.store.chainDepth(id) },
            { Store.clearDecodedCache(); _ = try ws.store.read(id, verify: false).withUnsafeBytes { $0.reduce(0, &+) } },
            { Store.clearDecodedCache(); _ = try ws.store.read(id, verify: true).count },
            { try ws.store.stream(id, verify: true) { _ = $0.count } },
        ])
    }

    /// A run's journal (journal/<run>.jsonl): read, then what gc, verify and stats do with it.
    static let journal = FuzzTarget(name: "journal", summary: "journal/<run>.jsonl → Store.readJournal, roots + reachability, stats") { ws, bytes in
        let run = "fuzz"
        let path = ws.store.root + "/journal/\(run).jsonl"
        defer { FuzzWorkspace.remove(path) }
        do { try FuzzWorkspace.write(bytes, to: path) } catch { return .violation("cannot write the input: \(error)") }
        let read = steps(naming: path) { _ = try ws.store.readJournal(run: run) }
        guard case .accepted = read else { return read }
        return alsoChecking(.accepted, naming: path, [
            { _ = ws.store.reachability(from: try ws.store.roots()) },
            { _ = try ws.store.stats() },
        ])
    }

    /// A pipeline file (`bridge run FILE`).
    static let pipelineYAML = FuzzTarget(name: "pipeline-yaml", summary: "a pipeline .yaml → PipelineConfig.parse(yaml:file:)") { _, bytes in
        let file = "fuzz-pipeline.yaml"
        guard let text = String(validating: bytes, as: UTF8.self) else { return .rejected("not UTF-8") }  // PipelineConfig.load's refusal
        return steps(naming: file) {
            let config = try PipelineConfig.parse(yaml: text, file: file)
            _ = config.identity
        }
    }

    /// A Hugging Face config.json, read by `bridge import hf DIR` (the directory has no weights, so
    /// an accepted config ends at "has neither model.safetensors ..."), and the model shapes it implies.
    static let modelConfig = FuzzTarget(name: "model-config", summary: "config.json → Store.importHuggingFace(directory:), ModelConfig(json:), ParameterLayout") { ws, bytes in
        let path = ws.hfDirectory + "/config.json"
        defer { FuzzWorkspace.remove(path) }
        do { try FuzzWorkspace.write(bytes, to: path) } catch { return .violation("cannot write the input: \(error)") }
        let imported = steps(naming: ws.hfDirectory) { _ = try ws.store.importHuggingFace(directory: ws.hfDirectory) }
        if let why = imported.violation { return .violation(why) }
        guard let config = try? ModelConfig(json: Data(bytes)) else { return imported }
        let layout = ParameterLayout(config: config)
        guard layout.totalCount == config.parameterCount, config.inverseFrequencies.count == config.headDim / 2 else {
            return .violation("inconsistent shapes for an accepted config")
        }
        return .accepted
    }

    /// A store's config.json (`Store(at:)`, every command that opens a store).
    static let storeConfig = FuzzTarget(name: "store-config", summary: "a store's config.json → Store(at:)") { ws, bytes in
        let path = ws.bareStore + "/config.json"
        defer { FuzzWorkspace.remove(path) }
        return steps(naming: ws.bareStore) {
            try FuzzWorkspace.write(bytes, to: path)
            _ = try Store(at: ws.bareStore)
        }
    }

    /// A Hugging Face tokenizer.json: loaded, then used to encode and decode a few lines.
    static let tokenizerJSON = FuzzTarget(name: "tokenizer-json", summary: "tokenizer.json → ByteLevelBPETokenizer(json:name:), encode/decode") { _, bytes in
        let name = "fuzz-tokenizer.json"
        return steps(naming: name) {
            exercise(try ByteLevelBPETokenizer(json: bytes, name: name))
        }
    }

    /// A llama2.c tokenizer.bin: loaded, then used to encode and decode a few lines.
    static let llama2cTokenizer = FuzzTarget(name: "llama2c-tokenizer", summary: "tokenizer.bin → Llama2CTokenizer(bytes:name:), encode/decode") { _, bytes in
        let name = "fuzz-tokenizer.bin"
        return steps(naming: name) {
            exercise(try Llama2CTokenizer(bytes: bytes, name: name))
        }
    }

    /// A llama2.c checkpoint (`bridge import llama2c FILE --tokenizer tok.bin`) with an 8-token
    /// tokenizer: checked, converted and stored (in a store emptied after each input).
    static let llama2cModel = FuzzTarget(name: "llama2c-model", summary: "a llama2.c .bin → Store.importLlama2c(file:tokenizer:)") { ws, bytes in
        let path = ws.root + "/model.bin"
        defer {
            FuzzWorkspace.remove(path)
            FuzzWorkspace.clearObjects(ws.llama2cStore)
        }
        return steps(naming: path) {
            try FuzzWorkspace.write(bytes, to: path)
            let set = try ws.llama2cStore.importLlama2c(file: path, tokenizer: ws.llama2cTokenizer)
            _ = try ws.llama2cStore.modelConfig(of: set)
        }
    }
}

/// A failed consistency check inside a target (reported as a violation: not a ClassifiedError).
struct FuzzFailure: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

/// Encodes and decodes text the way training and evaluation do, and decodes odd ids.
private func exercise(_ t: any Tokenizer) {
    let lines = ["Hello, world! 123 4567", "  two  spaces\tand a tab\nnew line", "héllo wörld, 日本語, 🙂 ok",
                 "<|im_start|>user\nhi<|im_end|>", "", " ", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"]
    for line in lines {
        for special in [false, true] {
            let ids = t.encode(line, addSpecialTokens: special)
            _ = t.decode(ids, skipSpecialTokens: special)
            for id in ids.prefix(4) { _ = t.token(id); _ = t.isSpecial(id) }
        }
    }
    let v = Int32(clamping: t.vocabularySize)
    _ = t.decode([-1, 0, 1, 2, 3, v &- 1, v, v &+ 1, Int32.max, Int32.min], skipSpecialTokens: false)
    _ = t.tokenID(" ")
}
