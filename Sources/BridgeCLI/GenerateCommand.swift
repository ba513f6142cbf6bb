// `bridge generate REF (--prompt-ids IDS | --prompt TEXT) [--max-tokens N] [--temperature T]
// [--top-p P] [--seed S] [--json]`: KV-cache decoding, greedy at temperature 0; stops after an
// end-of-sequence token of the config. Text goes through the tokenizer the model carries.

import ArgumentParser
import Checkpoint
import Foundation
import LanguageModel
import ShardStore
import Tokenizers

struct Generate: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Generate tokens from a prompt with a KV cache (greedy when --temperature 0).")
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "A model: ref name, object id or unique id prefix.") var ref: String
    @Option(name: .customLong("prompt-ids"), help: "Comma-separated prompt token ids, e.g. 1,2,3.") var promptIDs: String?
    @Option(help: "Prompt text, encoded with the model's tokenizer (with its BOS); \"\" starts from BOS alone.") var prompt: String?
    @Option(name: .customLong("max-tokens"), help: "Most new tokens to generate.") var maxTokens = 128
    @Option(help: "Sampling temperature; 0 = greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass in (0, 1].") var topP: Float = 1
    @Option(help: "Seed of the sampler.") var seed: UInt64 = 0
    @Flag(help: "Print {\"ids\": [...], \"text\": \"...\"} (generated tokens only; text when the model has a tokenizer).") var json = false

    func validate() throws {
        guard (promptIDs == nil) != (prompt == nil) else { throw ValidationError("give exactly one of --prompt-ids and --prompt") }
        guard maxTokens >= 0 else { throw ValidationError("--max-tokens must be ≥ 0") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
    }

    func run() throws {
        let (_, loaded) = try openModel(storeOptions, ref)
        let model = loaded.model
        let tokenizer = try modelTokenizer(loaded, ref: ref)
        var ids: [Int32]
        if let promptIDs {
            ids = try parseTokenIDs(promptIDs, option: "--prompt-ids")
            guard !ids.isEmpty else { throw ValidationError("--prompt-ids: give at least one token id (e.g. the BOS id)") }
        } else {
            guard let tokenizer else {
                throw UserError("'\(ref)' carries no tokenizer, so --prompt cannot be encoded\nhint: give --prompt-ids, or import the model with its tokenizer")
            }
            ids = tokenizer.encode(prompt!, addSpecialTokens: true)
            if ids.isEmpty, let bos = model.config.bosTokenId { ids = [Int32(bos)] }
            guard !ids.isEmpty else { throw UserError("the prompt encodes to no tokens and the model has no bos_token_id") }
        }
        let result = try model.generate(prompts: [ids], maxNewTokens: maxTokens,
                                        sampling: SamplingOptions(temperature: temperature, topP: topP, seed: seed),
                                        stopTokens: Set(model.config.eosTokenIds.map(Int32.init)), lora: loaded.adapter)
        let out = result.ids[0]
        if json {
            var object: [String: JSONValue] = ["ids": .array(out.map { .int(Int($0)) })]
            if let tokenizer { object["text"] = .string(tokenizer.decode(out, skipSpecialTokens: true)) }
            printJSON(.object(object))
        } else if let tokenizer {
            print(tokenizer.decode(out, skipSpecialTokens: true))
        } else {
            print(out.map(String.init).joined(separator: ","))
        }
    }
}
