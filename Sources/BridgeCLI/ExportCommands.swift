// `bridge export hf REF DIR [--merge-lora]`: a model as a directory Hugging Face transformers loads.

import ArgumentParser
import Checkpoint
import Foundation
import ShardStore

struct ExportModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export a model from the store.", subcommands: [HF.self])

    struct HF: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hf",
            abstract: "config.json + model.safetensors (sharded with an index above 4 GiB) + tokenizer files; a LoRA adapter as PEFT files unless merged.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "A ref name, an object id or a unique id prefix.") var ref: String
        @Argument(help: "Output directory (created if needed).") var directory: String
        @Flag(name: .customLong("merge-lora"), help: "Fold a LoRA adapter into the weights (written as f32).") var mergeLoRA = false

        func run() throws {
            let store = try storeOptions.open()
            let set = try store.tensorSet(try store.resolve(ref).id)
            try store.exportHuggingFace(set, to: directory, mergeLoRA: mergeLoRA)
            FileHandle.standardError.write(Data("exported \(set.tensors.count) tensors to \(directory)\n".utf8))
        }
    }
}
