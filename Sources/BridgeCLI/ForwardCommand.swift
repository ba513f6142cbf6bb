// `bridge forward REF --prompt-ids 1,2,3 --out FILE.safetensors`: the logits [T, vocab] (f32) of
// one sequence, for checking a model against other implementations.

import ArgumentParser
import Checkpoint
import Foundation
import LanguageModel
import ShardStore

struct Forward: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Write the logits of one token sequence to a safetensors file (tensor 'logits' [T, vocab] f32).")
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "A model: ref name, object id or unique id prefix.") var ref: String
    @Option(name: .customLong("prompt-ids"), help: "Comma-separated token ids, e.g. 1,2,3.") var promptIDs: String
    @Option(help: "Output .safetensors path.") var out: String

    func run() throws {
        let ids = try parseTokenIDs(promptIDs, option: "--prompt-ids")
        guard !ids.isEmpty else { throw ValidationError("--prompt-ids: give at least one token id") }
        let (_, loaded) = try openModel(storeOptions, ref)
        let acts = Activations(config: loaded.model.config, batch: 1, time: ids.count, lora: loaded.adapter?.config)
        try loaded.model.forward(tokens: ids, acts: acts, lora: loaded.adapter)
        try SafetensorsWriter.write([("logits", acts.logits.tensor(shape: [ids.count, loaded.model.config.vocabSize]))],
                                    metadata: ["format": "pt"], to: out)
        FileHandle.standardError.write(Data("wrote logits [\(ids.count), \(loaded.model.config.vocabSize)] to \(out)\n".utf8))
    }
}
