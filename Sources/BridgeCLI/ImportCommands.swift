// `bridge import hf DIR --name NAME` and `bridge import llama2c FILE --tokenizer TOK --name NAME`:
// models into the store as tensor sets, ref models/NAME.

import ArgumentParser
import Checkpoint
import Foundation
import ShardStore

struct ImportModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "import", abstract: "Import a model into the store (ref models/NAME).",
        subcommands: [HF.self, Llama2c.self])

    struct HF: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hf",
            abstract: "A Hugging Face directory: config.json, model.safetensors or model.safetensors.index.json, tokenizer files.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The model directory (as written by save_pretrained).") var directory: String
        @Option(help: "Name of the ref to create or move (models/NAME).") var name: String
        @Flag(help: "Print a JSON object.") var json = false

        func run() throws {
            try ImportModel.run(storeOptions, name: name, json: json) { store in try store.importHuggingFace(directory: directory) }
        }
    }

    struct Llama2c: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "llama2c", abstract: "A llama2.c checkpoint (legacy format) with its tokenizer.bin.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The llama2.c model file (e.g. stories260K.bin).") var file: String
        @Option(help: "The llama2.c tokenizer file (e.g. tok512.bin).") var tokenizer: String
        @Option(help: "Name of the ref to create or move (models/NAME).") var name: String
        @Flag(help: "Print a JSON object.") var json = false

        func run() throws {
            try ImportModel.run(storeOptions, name: name, json: json) { store in try store.importLlama2c(file: file, tokenizer: tokenizer) }
        }
    }

    /// Imports with `body`, points models/NAME at the set and reports it.
    static func run(_ storeOptions: StoreOptions, name: String, json: Bool, _ body: (Store) throws -> TensorSet) throws {
        let ref = try RefName.model(name)
        let store = try storeOptions.open()
        let start = Date()
        let set = try body(store)
        try store.updateRef(ref, to: set.id!)
        report(set, ref: ref, seconds: Date().timeIntervalSince(start), json: json)
    }

    static func report(_ set: TensorSet, ref: RefName, seconds: Double, json: Bool) {
        let config = set.metadata[ModelMetadata.config]
        if json {
            printJSON(["id": .string(set.id!.hex), "ref": .string(ref.path), "tensors": .int(set.tensors.count),
                       "bytes": .int(set.byteCount), "model_type": config?["model_type"] ?? .null, "seconds": .double(seconds)])
        } else {
            print(set.id!.hex)
            FileHandle.standardError.write(Data("imported \(config?["model_type"]?.stringValue ?? "model") (\(set.tensors.count) tensors, \(formatBytes(set.byteCount))) as \(ref) in \(String(format: "%.2f", seconds)) s\n".utf8))
        }
    }
}
