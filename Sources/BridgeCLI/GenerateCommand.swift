// `bridge generate REF --prompt-ids IDS [--max-tokens N] [--temperature T] [--top-p P] [--seed S]`:
// KV-cache decoding, greedy at temperature 0; stops after an end-of-sequence token of the config.

import ArgumentParser
import Checkpoint
import Foundation
import LanguageModel
import ShardStore

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate tokens from a prompt with a KV cache (greedy when --temperature 0).")
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "A model: ref name, object id or unique id prefix.") var ref: String
    @Option(name: .customLong("prompt-ids"), help: "Comma-separated prompt token ids, e.g. 1,2,3.") var promptIDs: String
    @Option(name: .customLong("max-tokens"), help: "Most new tokens to generate.") var maxTokens = 128
    @Option(help: "Sampling temperature; 0 = greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass in (0, 1].") var topP: Float = 1
    @Option(help: "Seed of the sampler.") var seed: UInt64 = 0
    @Flag(help: "Print {\"ids\": [...]} (generated ids only).") var json = false

    func validate() throws {
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() throws {
        let ids = try parseTokenIDs(promptIDs, option: "--prompt-ids")
        guard !ids.isEmpty else { throw ValidationError("--prompt-ids: give at least one token id (e.g. the BOS id)") }
        let (_, loaded) = try openModel(storeOptions, ref)
        let model = loaded.model
        let result = try model.generate(prompts: [ids], maxNewTokens: maxTokens,
                                        sampling: SamplingOptions(temperature: temperature, topP: topP, seed: seed),
                                        stopTokens: Set(model.config.eosTokenIds.map(Int32.init)), lora: loaded.adapter)
        let out = result.ids[0]
        if json {
            printJSON(["ids": .array(out.map { .int(Int($0)) })])
        } else {
            print(out.map(String.init).joined(separator: ","))
        }
    }
}
