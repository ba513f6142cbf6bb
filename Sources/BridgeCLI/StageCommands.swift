// `bridge stage NAME --run RUN ...`: run one stage of a run by hand. The runner skips a stage whose
// key (stage, version, parameters, input ids) is already journaled with its outputs in the store.

import ArgumentParser
import Checkpoint
import Foundation
import Pipeline
import ShardStore
import Tokenizers
import Training

struct StageCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stage", abstract: "Run one stage of a run by hand (skipped when its inputs are unchanged).",
        subcommands: [TokenizeCommand.self, RolloutCommand.self, ScoreCommand.self, RefLogprobsCommand.self, LoRAInitCommand.self,
                      LowerStepCommand.self, UpperStepCommand.self, EvalStageCommand.self])
}

struct RunOptions: ParsableArguments {
    @OptionGroup var storeOptions: StoreOptions
    @Option(help: "The run this stage belongs to (its journal is journal/RUN.jsonl).") var run: String
    @Flag(help: "Print a JSON object.") var json = false

    /// Runs the stage in this run (skipped when journaled), points `ref` at its output `role`
    /// if given — or, with `everyRole`, runs/RUN/<role> at each output — and prints the outcome.
    func execute<S: Stage>(_ stage: S, in store: Store, pointing ref: RefName? = nil, at role: String = "", everyRole: Bool = false) throws {
        let runner = try StageRunner(store: store, run: run, log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        let outcome = try runner.execute(stage)
        if let ref { try store.updateRef(ref, to: try outcome.result.id(role)) }
        if everyRole {
            for role in outcome.result.outputs.keys.sorted() {
                try store.updateRef(try RefName("runs/\(run)/\(role)"), to: try outcome.result.id(role))
            }
        }
        printStage(S.name, outcome, json: json)
    }
}

/// A tokenizer named on the command line: a tokenizer.json or llama2.c .bin path, a model directory
/// holding tokenizer.json, or a model ref whose tensor set carries one (`ModelMetadata.tokenizerFiles`);
/// parsed once (which validates it), not yet stored.
struct TokenizerArgument {
    let bytes: [UInt8]
    let name: String
    let tokenizer: any Tokenizer

    init(_ argument: String, store: @autoclosure () throws -> Store) throws {
        if let kind = InputFile.kind(argument) {
            let path = kind == .directory ? argument + "/tokenizer.json" : argument
            do { bytes = try InputFile.read(path) } catch {
                throw UserError("cannot read tokenizer '\(path)': \(error.reason)\nhint: give a tokenizer.json, a llama2.c tokenizer .bin, or a directory holding tokenizer.json")
            }
            name = path
        } else {
            let store = try store()
            guard let resolved = try? store.resolve(argument) else {
                throw UserError("no tokenizer file or model ref '\(argument)'\nhint: give a tokenizer.json, a llama2.c tokenizer .bin, or a model imported with its tokenizer")
            }
            // A model carries its tokenizer files as u8 tensors "tokenizer/<file>".
            let set = try store.tensorSet(resolved.id)
            guard let entry = set.tokenizerEntry else {
                throw UserError("model '\(argument)' carries no tokenizer\nhint: pass a tokenizer file, or import the model with its tokenizer")
            }
            (bytes, name) = (try store.loadTensor(entry).buffer.withUnsafeBytes { Array($0) }, "\(argument):\(entry.name)")
        }
        tokenizer = try TokenizerLoader.load(bytes: bytes, name: name)
    }

    /// The tokenizer's blob id, storing the file's bytes if they are not in the store yet.
    func store(in store: Store) throws -> ObjectID { try store.put(bytes, kind: .blob, codec: .auto).id }
}

func printStage(_ name: String, _ outcome: StageRunner.Outcome, json: Bool) {
    if json {
        printJSON(["stage": .string(name), "key": .string(outcome.key.hex), "skipped": .bool(outcome.skipped),
                   "outputs": .object(outcome.result.outputs), "metrics": .object(outcome.result.metrics)])
        return
    }
    for (role, id) in outcome.result.outputs.sorted(by: { $0.key < $1.key }) { print("\(role): \(id.stringValue ?? "\(id)")") }
    for (k, v) in outcome.result.metrics.sorted(by: { $0.key < $1.key }) { print("  \(k) = \(v)") }
}

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Datasets + tokenizer + chat template → a token shard (SFT examples with target masks, RL prompts or an eval set with reference answers).")

    @OptionGroup var options: RunOptions
    @Option(help: "A tokenizer.json or llama2.c tokenizer .bin, or a model ref that carries one.") var tokenizer: String
    @Option(help: "A JSONL dataset (GSM8K, MATH, MATH500, AIME24, AMC23, Minerva, OlympiadBench or bridge records), or 'synthetic'.") var data: String
    @Option(help: "Dataset format (default: detected from the first line's keys).") var format: String?
    @Option(help: "sft (prompt + target, loss mask on the target), rl (prompts + answers) or eval.") var kind: String
    @Option(help: "Chat template: \(ChatTemplate.names.joined(separator: ", ")).") var template = "raw"
    @Option(help: "A system prompt to put first.") var system: String?
    @Option(help: "instruction (problem + the boxed-answer instruction) or plain (problem only).") var promptStyle = "instruction"
    @Option(help: "Use at most this many records.") var limit: Int?
    @Option(help: "Drop examples whose prompt has more tokens.") var maxPromptTokens: Int?
    @Option(help: "Drop examples with more tokens in all.") var maxTokens: Int?
    @Option(help: "Synthetic task: seed.") var seed: UInt64 = SyntheticArithmetic.defaultSeed
    @Option(help: "Synthetic task: difficulty level (1-5).") var level = SyntheticArithmetic.defaultLevel
    @Option(help: "Synthetic task: number of problems.") var count = SyntheticArithmetic.defaultTrainCount
    @Option(help: "Synthetic task: train, validation or test.") var split = "train"
    @Option(help: "Synthetic task: arithmetic or equations.") var family = "arithmetic"
    @Option(help: "Point the ref runs/RUN/data/NAME at the shard (default: the kind).") var name: String?

    func run() throws {
        try validateRunName(options.run)
        guard let shardKind = TokenShard.Kind(rawValue: kind) else { throw UserError("unknown --kind '\(kind)' (sft, rl or eval)") }
        guard ["instruction", "plain"].contains(promptStyle) else { throw UserError("unknown --prompt-style '\(promptStyle)' (instruction or plain)") }
        _ = try ChatTemplate(name: template)
        let ref = try RefName("runs/\(options.run)/data/\(name ?? kind)")
        let store = try options.storeOptions.open()

        // Validate every input (errors name the file and line) before anything is stored.
        let tokenizerArgument = try TokenizerArgument(tokenizer, store: store)
        var datasetBytes: [UInt8]? = nil
        if data == "synthetic" {
            _ = try readDataset(data, format: format, synthetic: (seed, level, count, split, family))
        } else {
            if let format { _ = try parseDatasetFormat(format) }
            let bytes: [UInt8]
            do { bytes = try InputFile.read(data) } catch { throw DatasetError.unreadable(file: data, reason: error.reason) }
            _ = try TokenizeStage.records(bytes: bytes, file: data, format: format)   // read once, checked as the stage reads it
            datasetBytes = bytes
        }
        let source: DatasetSource = try datasetBytes.map { .blob(try store.put($0, kind: .blob, codec: .auto).id, format: format) }
            ?? .synthetic(seed: seed, level: level, count: count, split: split, family: family)
        let tokenizerID = try tokenizerArgument.store(in: store)
        let stage = TokenizeStage(tokenizer: tokenizerID, source: source, kind: shardKind, template: template, systemPrompt: system,
                                  promptStyle: promptStyle, limit: limit, maxPromptTokens: maxPromptTokens, maxTokens: maxTokens)
        try options.execute(stage, in: store, pointing: ref, at: "shard")
    }
}

struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score", abstract: "Responses + reference answers → rewards, GRPO group advantages and reward metrics.")

    @OptionGroup var options: RunOptions
    @Option(help: "The prompt shard (a ref such as runs/RUN/data/rl, or an id) the responses answer.") var prompts: String
    @Option(help: "A responses set (ref or id), or a JSONL file of {\"prompt_index\": i, \"response\": \"text\"} lines, grouped.") var responses: String
    @Option(help: "The tokenizer (file or model ref) the responses were generated with.") var tokenizer: String
    @Option(help: "Responses per prompt (JSONL input only; a responses set records its own).") var groupSize: Int?
    @Option(help: "Reward of a correct answer.") var correctReward = 1.0
    @Option(help: "Reward of an incorrect answer.") var incorrectReward = 0.0
    @Option(help: "Added when the answer is in \\boxed{} (0: off).") var formatReward = 0.0
    @Option(name: .customLong("advantage-epsilon"), help: "ε_std added to the std of the advantages (TRL 1e-4, verl 1e-6).") var advantageEpsilon = 1e-6
    @Option(name: .customLong("scale-rewards"), help: "Divide advantages by the std of the group, of the batch, or none.") var scaleRewards = "group"

    func run() throws {
        try validateRunName(options.run)
        guard let scale = ScaleRewards(rawValue: scaleRewards) else { throw UserError("invalid value for 'rl.scale_rewards': '\(scaleRewards)' (group, batch or none)") }
        guard advantageEpsilon >= 0 else { throw UserError("invalid value for 'rl.advantage_epsilon': must be ≥ 0") }
        let store = try options.storeOptions.open()
        let promptsID = try store.resolve(prompts).id
        let shard = try TokenShard.load(from: store, id: promptsID)
        let tokenizerArgument = try TokenizerArgument(tokenizer, store: store)
        let responsesID: ObjectID
        if InputFile.exists(responses) {
            guard let groupSize, groupSize > 0 else { throw UserError("--group-size is required with a JSONL responses file") }
            let tok = tokenizerArgument.tokenizer
            let lines = try JSONLines.read(contentsOf: URL(fileURLWithPath: responses))
            var tokens: [[Int32]] = [], index: [Int] = []
            for l in lines {
                let i = try l.int("prompt_index")
                guard i >= 0, i < shard.count else {
                    throw UserError("\(responses) line \(l.line): prompt_index \(i) is outside the shard's \(shard.count) prompts")
                }
                index.append(i)
                tokens.append(tok.encode(try l.string("response")))
            }
            let r = Responses(tokens: tokens, promptIndex: index, finished: tokens.map { _ in true }, groupSize: groupSize, prompts: promptsID)
            do { try r.validate(promptCount: shard.count) } catch { throw UserError("\(responses): \(error)") }
            responsesID = try r.store(in: store)
        } else {
            responsesID = try store.resolve(responses).id
        }
        let tokenizerID = try tokenizerArgument.store(in: store)
        let stage = ScoreStage(responses: responsesID, prompts: promptsID, tokenizer: tokenizerID,
                               reward: MathRewardConfig(correctReward: correctReward, incorrectReward: incorrectReward, formatReward: formatReward),
                               advantageEpsilon: advantageEpsilon, scaleRewards: scale)
        try options.execute(stage, in: store, pointing: try RefName("runs/\(options.run)/scores"), at: "scores")
    }
}

struct RolloutCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollout",
        abstract: "A policy + a prompt shard → G sampled responses per prompt, with their log-probabilities.",
        discussion: "Writes a responses set and points runs/RUN/responses/NAME at it; `stage score` grades it.")

    @OptionGroup var options: RunOptions
    @Option(help: "The policy's base weights: a model ref or id (θ or θ̂).") var policy: String
    @Option(help: "A LoRA adapter set to wear (ref or id), e.g. runs/RUN/lora.") var adapter: String?
    @Option(help: "Sampler stream: rollout, shadow-rollout or eval-sample.") var purpose = "rollout"
    @Option(help: "Prompt order: sequential (wrapping) or shuffled (a permutation per epoch, seeded).") var order = "sequential"
    @Option(name: .customLong("generation-batch"), help: "Sequences decoded together (bounds the KV cache; not part of the key).") var generationBatch = 64
    @Option(help: "The prompt shard (rl or eval; a ref such as runs/RUN/data/rl, or an id).") var prompts: String
    @Option(help: "First prompt (wraps around the shard).") var cursor = 0
    @Option(help: "Prompts in this rollout.") var batch = 8
    @Option(help: "Responses per prompt (G).") var groupSize = 4
    @Option(name: .customLong("max-tokens"), help: "Most tokens per response.") var maxTokens = 256
    @Option(help: "Sampling temperature (> 0).") var temperature: Float = 1
    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass in (0, 1].") var topP: Float = 1
    @Option(help: "Seed of the samplers.") var seed: UInt64 = 0
    @Option(help: "Point runs/RUN/responses/NAME at the responses.") var name = "rollout"

    func validate() throws {
        guard cursor >= 0 else { throw ValidationError("--cursor must be ≥ 0") }
        guard batch > 0, groupSize > 0, maxTokens > 0 else { throw ValidationError("--batch, --group-size and --max-tokens must be > 0") }
        guard temperature > 0, temperature.isFinite else { throw ValidationError("--temperature must be > 0 (rollouts sample)") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard RolloutStage.Order(rawValue: order) != nil else { throw ValidationError("--order must be sequential or shuffled") }
        guard generationBatch > 0 else { throw ValidationError("--generation-batch must be > 0") }
    }

    func run() throws {
        try validateRunName(options.run)
        let ref = try RefName("runs/\(options.run)/responses/\(name)")
        let store = try options.storeOptions.open()
        let policyID = try store.resolve(policy).id
        let promptsID = try store.resolve(prompts).id
        let stage = RolloutStage(policy: policyID, adapter: try store.id(adapter), prompts: promptsID, cursor: cursor, batch: batch, groupSize: groupSize,
                                 maxNewTokens: maxTokens, temperature: temperature, topP: topP, seed: seed, purpose: purpose,
                                 order: RolloutStage.Order(rawValue: order)!, generationBatch: generationBatch)
        try options.execute(stage, in: store, pointing: ref, at: "responses")
    }
}
