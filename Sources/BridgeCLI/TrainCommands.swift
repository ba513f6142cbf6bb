// `bridge train sft REF --data FILE.jsonl --steps N --batch B --lr X ... --name OUT`: plain
// supervised fine-tuning; the new weights become a tensor set, ref models/OUT.

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
        @Flag(help: "Print {\"losses\": [...], ...} at the end instead of one line per step.") var json = false

        func validate() throws {
            guard steps > 0 else { throw ValidationError("--steps must be positive") }
            guard batch > 0 else { throw ValidationError("--batch must be positive") }
            guard lr > 0, lr.isFinite else { throw ValidationError("--lr must be positive") }
            guard weightDecay >= 0, clip >= 0 else { throw ValidationError("--weight-decay and --clip must be ≥ 0") }
        }

        func run() throws {
            let outRef = try RefName.model(name)
            let (store, loaded) = try openModel(storeOptions, ref)
            let examples: [SFTExample]
            if let bytes = FileManager.default.contents(atPath: data) {
                examples = try SFTData.parse(jsonl: bytes, path: data)
            } else if let shardID = try? store.resolve(data).id, let shard = try? TokenShard.load(from: store, id: shardID) {
                guard shard.kind == .sft else { throw UserError("token shard '\(data)' is a \(shard.kind.rawValue) shard; SFT needs one made with --kind sft") }
                examples = (0..<shard.count).map { SFTExample(tokens: shard.sequences[$0], lossFrom: shard.promptLengths[$0], line: $0 + 1) }
            } else {
                throw UserError("cannot read training data '\(data)': no such file, and no SFT token shard by that name in the store")
            }
            if loaded.adapter != nil { throw UserError("'\(ref)' carries a LoRA adapter; export it with --merge-lora and re-import to train the merged weights") }
            let config = SFTConfig(steps: steps, batch: batch,
                                   optimizer: AdamWConfig(lr: lr, weightDecay: weightDecay, clip: clip == 0 ? nil : clip), seed: seed)
            let trainer = try SFTTrainer(model: loaded.model, examples: examples, config: config, path: data)
            let start = Date()
            let losses = try trainer.run { step, loss in
                if !json { print("step \(step + 1)/\(steps)  loss \(String(format: "%.6f", loss))") }
            }
            let seconds = Date().timeIntervalSince(start)
            let metadata: [String: JSONValue] = [
                "stage": "train-sft", "steps": .int(steps), "batch": .int(batch), "lr": .double(Double(lr)),
                "weight_decay": .double(Double(weightDecay)), "clip": .double(Double(clip)), "seed": .int(Int(seed)),
                "data_records": .int(examples.count), "final_loss": .double(Double(losses.last ?? 0)),
            ]
            let set = try store.putModel(params: loaded.model.params, layout: loaded.model.layout, like: loaded.set, metadata: metadata)
            try store.updateRef(outRef, to: set.id!)
            if json {
                printJSON(["losses": .array(losses.map { .double(Double($0)) }), "id": .string(set.id!.hex),
                           "ref": .string(outRef.path), "seconds": .double(seconds)])
            } else {
                print(set.id!.hex)
                FileHandle.standardError.write(Data("trained \(steps) steps in \(String(format: "%.2f", seconds)) s; wrote \(outRef)\n".utf8))
            }
        }
    }
}
