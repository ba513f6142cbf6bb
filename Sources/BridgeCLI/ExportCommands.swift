// `bridge export hf REF DIR [--merge-lora] [--max-shard-size BYTES]`: a model as a directory Hugging Face transformers loads.

import ArgumentParser
import Checkpoint
import Foundation
import ShardStore

struct ExportModel: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "export", abstract: "Export a model or an adapter from the store.", subcommands: [HF.self, LoRA.self])

    struct LoRA: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "lora", abstract: "A LoRA adapter set as PEFT files: adapter_model.safetensors + adapter_config.json.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The adapter: a ref name (e.g. runs/RUN/lora), an object id or a unique id prefix.") var ref: String
        @Argument(help: "Output directory (created if needed).") var directory: String

        func run() throws {
            let store = try storeOptions.open()
            let set = try store.tensorSet(try store.resolve(ref).id)
            try store.exportAdapter(set, to: directory)
            FileHandle.standardError.write(Data("exported the adapter's \(set.tensors.count) tensors to \(directory)\n".utf8))
        }
    }

    struct HF: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "hf",
            abstract: "config.json + model.safetensors (sharded with an index above --max-shard-size) + tokenizer files; a LoRA adapter as PEFT files unless merged.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "A ref name, an object id or a unique id prefix.") var ref: String
        @Argument(help: "Output directory (created if needed).") var directory: String
        @Option(help: "A separate LoRA adapter set (ref or id) for this base, written as PEFT files or merged.") var adapter: String?
        @Flag(name: .customLong("merge-lora"), help: "Fold a LoRA adapter into the weights (written as f32).") var mergeLoRA = false
        @Option(name: .customLong("max-shard-size"), help: "Largest model.safetensors in bytes (suffixes KB, MB, GB as in save_pretrained: powers of 1000; KiB, MiB, GiB: of 1024); above it, shards + index.")
        var maxShardSize = "4GiB"

        func validate() throws {
            guard let bytes = Self.bytes(maxShardSize), bytes > 0 else {
                throw ValidationError("--max-shard-size '\(maxShardSize)': expected a positive byte count such as 500MB, 2GiB or 1000000")
            }
        }

        /// "123", "500MB", "2GiB" → bytes.
        static func bytes(_ text: String) -> Int? {
            let units: [(String, Int)] = [("KiB", 1 << 10), ("MiB", 1 << 20), ("GiB", 1 << 30),
                                          ("KB", 1_000), ("MB", 1_000_000), ("GB", 1_000_000_000), ("B", 1)]
            for (suffix, scale) in units where text.hasSuffix(suffix) {
                guard let n = Int(text.dropLast(suffix.count)) else { return nil }
                return n.multipliedReportingOverflow(by: scale).overflow ? nil : n * scale
            }
            return Int(text)
        }

        func run() throws {
            let store = try storeOptions.open()
            let set = try store.tensorSet(try store.resolve(ref).id)
            let adapterSet = try adapter.map { try store.tensorSet(try store.resolve($0).id) }
            try store.exportHuggingFace(set, adapter: adapterSet, to: directory, mergeLoRA: mergeLoRA, shardBytes: Self.bytes(maxShardSize)!)
            FileHandle.standardError.write(Data("exported \(set.tensors.count) tensors to \(directory)\n".utf8))
        }
    }
}
