// Shared pieces of the model commands: opening a model ref and parsing token-id lists.

import ArgumentParser
import Checkpoint
import Foundation
import ShardStore
import Tokenizers

/// Resolves REF (ref name, id or prefix) to a model and loads it.
func openModel(_ storeOptions: StoreOptions, _ ref: String) throws -> (Store, LoadedModel) {
    let store = try storeOptions.open()
    let resolved = try store.resolve(ref)
    let set = try store.tensorSet(resolved.id)
    return (store, try store.loadModel(set))
}

/// "1,2,3" → [1, 2, 3]; "" → [].
func parseTokenIDs(_ text: String, option: String) throws -> [Int32] {
    let parts = text.split(separator: ",", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
    if parts == [""] { return [] }
    return try parts.map { p in
        guard let v = Int32(p), v >= 0 else {
            throw ValidationError("\(option): '\(p)' is not a token id (expected comma-separated non-negative integers, e.g. 1,2,3)")
        }
        return v
    }
}

/// The tokenizer a model's tensor set carries (tokenizer.json or llama2.c tokenizer.bin), if any.
func modelTokenizer(_ loaded: LoadedModel, ref: String) throws -> (any Tokenizer)? {
    for name in ModelMetadata.tokenizerFiles {
        if let bytes = loaded.tokenizerFiles[name] {
            return try TokenizerLoader.load(bytes: bytes, name: "\(name) of '\(ref)'")
        }
    }
    return nil
}
