// `bridge train sft REF --data FILE.jsonl --steps N --batch B --lr X ... --name OUT`: plain
// supervised fine-tuning through the train-sft stage (Pipeline/ModelStages.swift); the new
// weights become a tensor set, ref models/OUT.

import ArgumentParser
import Checkpoint
import Foundation
import LanguageModel
import Pipeline
import ShardStore
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model.", subcommands: [SFT.self])

    struct SFT: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "sft",
            abstract: "Supervised fine-tuning on pre-tokenized JSONL ({\"ids\": [...]} or {\"prompt_ids\": [...], \"completion_ids\": [...]}); token-mean loss, constant LR, AdamW.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The model to start from: ref name, object id or unique id prefix.") var ref: String
        @Option(help: "Training data: pre-tokenized JSONL (one record per line), or an SFT token shard from 'bridge stage tokenize --kind sft' (ref or id).") var data: String
        @Option(help: "Optimizer steps.") var steps: Int
        @Option(help: "Sequences per step.") var batch: Int
        @Option(help: "Learning rate (constant).") var lr: Float
        @Option(name: .customLong("weight-decay"), help: "AdamW weight decay (PyTorch default 0.01).") var weightDecay: Float = 0.01
        @Option(help: "Max global gradient norm; 0 disables clipping.") var clip: Float = 1.0
        @Option(help: "Seed of the example order.") var seed: UInt64 = 0
        @Option(help: "Name of the output ref (models/NAME).") var name: String
        @Option(name: .customLong("run"), help: "The journal the training is recorded in (default: train); an identical training found there is not redone.") var runName: String?
        @Flag(help: "Print {\"losses\": [...], ...} at the end instead of one line per step.") var json = false

        func validate() throws {
            guard steps > 0 else { throw ValidationError("--steps must be positive") }
            guard batch > 0 else { throw ValidationError("--batch must be positive") }
            guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
            guard weightDecay >= 0, clip >= 0 else { throw ValidationError("--weight-decay and --clip must be ≥ 0") }
        }

        func run() throws {
            let outRef = try RefName.model(name)
            if let runName { try validateRunName(runName) }
            let store = try storeOptions.open()
            let model = try store.resolve(ref).id
            // the data as an SFT token shard: pre-tokenized JSONL becomes one, a shard is used as is
            let shard: ObjectID
            if let bytes = FileManager.default.contents(atPath: data) {
                let examples = try SFTData.parse(jsonl: bytes, path: data)
                // the loss starts where the targets do (SFTExample: targets[t] = tokens[t+1] from lossFrom − 1)
                let promptLengths = examples.map { ($0.targets.firstIndex { $0 != -100 } ?? max($0.tokens.count - 1, 0)) + 1 }
                shard = try TokenShard(kind: .sft, sequences: examples.map(\.tokens), promptLengths: promptLengths,
                                       answers: examples.map { _ in "" }, recordIDs: examples.map { "\(data):\($0.line)" },
                                       metadata: ["source": .string(URL(fileURLWithPath: data).lastPathComponent)]).store(in: store)
            } else if let id = try? store.resolve(data).id, (try? TokenShard.load(from: store, id: id)) != nil {
                shard = id
            } else {
                throw UserError("cannot read training data '\(data)': no such file, and no SFT token shard by that name in the store")
            }
            let config = SFTConfig(steps: steps, batch: batch,
                                   optimizer: AdamWConfig(lr: lr, weightDecay: weightDecay, clip: clip == 0 ? nil : clip), seed: seed)
            var stage = TrainSFTStage(model: model, data: shard, config: config)
            if !json { stage.onStep = { step, loss in print("step \(step + 1)/\(steps)  loss \(String(format: "%.6f", loss))") } }
            // journaled in run `--run` (default "train"): the same training again is read back, not redone
            let runner = try StageRunner(store: store, run: runName ?? "train")
            let start = Date()
            let outcome = try runner.execute(stage)
            let seconds = Date().timeIntervalSince(start)
            let theta = try outcome.result.id("theta")
            try store.updateRef(outRef, to: theta)
            let losses = outcome.result.metrics["losses"] ?? .array([])
            if json {
                printJSON(["losses": losses, "id": .string(theta.hex), "ref": .string(outRef.path), "seconds": .double(seconds),
                           "skipped": .bool(outcome.skipped)])
            } else {
                if outcome.skipped, let all = losses.arrayValue {
                    for (i, l) in all.enumerated() { print("step \(i + 1)/\(steps)  loss \(String(format: "%.6f", l.doubleValue ?? 0))") }
                }
                print(theta.hex)
                FileHandle.standardError.write(Data("\(outcome.skipped ? "found in the journal: " : "")trained \(steps) steps in \(String(format: "%.2f", seconds)) s; wrote \(outRef)\n".utf8))
            }
        }
    }
}
