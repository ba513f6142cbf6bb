// `bridge train sft REF --data FILE.jsonl --steps N --batch B --lr X ... --name OUT`: plain
// supervised fine-tuning through the train-sft stage (Pipeline/ModelStages.swift); the new
// weights become a tensor set, ref models/OUT.

import ArgumentParser
import Checkpoint
import Foundation
import LanguageModel
import Pipeline
import ShardStore
import Tokenizers
import Training

struct Train: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "Train a model.", subcommands: [SFT.self, Pretrain.self])

    struct Pretrain: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "pretrain",
            abstract: "A base model from random weights: a config's architecture, then next-token training on a text corpus (the pretrain stage).",
            discussion: """
                The corpus is a UTF-8 text file (one document per line, or per paragraph with \
                --documents paragraphs) or 'arithmetic': generic arithmetic text from the synthetic \
                task's train problems — a problem with its whole expression and result, and single \
                statements — without worked steps or an answer format. Journaled in run 'pretrain' \
                (or --run): the same pretraining again is read back, not redone.
                """)
        @OptionGroup var storeOptions: StoreOptions
        @Option(help: "Tokenizer: a tokenizer.json or llama2.c tokenizer.bin file, or a model ref whose tokenizer to use.") var tokenizer: String
        @Option(help: "Corpus: a text file, or 'arithmetic'.") var corpus: String
        @Option(name: .customLong("corpus-documents"), help: "Documents of the arithmetic corpus.") var corpusDocuments = 200_000
        @Option(help: "How a text corpus is cut into documents: lines or paragraphs (separated by a blank line). The arithmetic corpus is paragraphs.")
        var documents: String?
        @Option(name: .customLong("corpus-seed"), help: "Seed of the arithmetic corpus (keep it apart from the task's seeds).") var corpusSeed: UInt64 = 1_000_003
        @Option(name: .customLong("corpus-levels"), help: "Levels of the arithmetic corpus, e.g. 1-5.") var corpusLevels = "1-5"
        @Flag(name: .customLong("corpus-answer-line"), help: "End each problem of the arithmetic corpus with 'The answer is \\boxed{N}.' (the answer format, not the worked steps).") var corpusAnswerLine = false
        @Option(help: "A config.json for the architecture (its vocab_size must hold the tokenizer); else the options below.") var config: String?
        @Option(name: .customLong("model-type"), help: "qwen2, llama or qwen3.") var modelType = "qwen2"
        @Option(help: "Hidden size.") var hidden = 128
        @Option(help: "Layers.") var layers = 4
        @Option(help: "Attention heads.") var heads = 4
        @Option(name: .customLong("kv-heads"), help: "Key/value heads.") var kvHeads = 2
        @Option(help: "MLP size.") var intermediate = 384
        @Option(help: "max_position_embeddings.") var context = 512
        @Option(help: "Optimizer steps.") var steps: Int
        @Option(help: "Windows per step.") var batch = 16
        @Option(name: .customLong("seq-len"), help: "Tokens per window.") var seqLen = 128
        @OptionGroup var adam: AdamWOptions
        @Option(help: "Seed of the initial weights and the window order.") var seed: UInt64 = 0
        @Option(help: "Name of the output ref (models/NAME).") var name: String
        @Option(name: .customLong("run"), help: "The journal the stage is recorded in (default: pretrain).") var runName: String?
        @Flag(help: "Print a JSON object at the end instead of one line per step.") var json = false

        func validate() throws {
            guard steps > 0, batch > 0, seqLen >= 2, corpusDocuments > 0 else {
                throw ValidationError("--steps, --batch and --corpus-documents must be positive, --seq-len ≥ 2")
            }
            if let documents, PretrainStage.Documents(rawValue: documents) == nil {
                throw ValidationError("--documents must be lines or paragraphs")
            }
            if corpusAnswerLine, corpus != "arithmetic" { throw ValidationError("--corpus-answer-line applies to --corpus arithmetic only") }
            if corpus == "arithmetic", documents == "lines" { throw ValidationError("the arithmetic corpus is paragraphs (--documents lines does not apply)") }
        }

        func run() throws {
            let outRef = try RefName.model(name)
            if let runName { try validateRunName(runName) }
            let levelParts = corpusLevels.split(separator: "-").compactMap { Int($0) }
            guard (1...2).contains(levelParts.count), let lo = levelParts.first, let hi = levelParts.last, lo <= hi,
                  SyntheticArithmetic.Difficulty.levels.contains(lo), SyntheticArithmetic.Difficulty.levels.contains(hi) else {
                throw UserError("--corpus-levels '\(corpusLevels)': expected L or L-M within \(SyntheticArithmetic.Difficulty.levels)")
            }
            // every input read and checked before anything is stored
            let tokenizerBytes: [UInt8]
            var store: Store? = nil
            if InputFile.kind(tokenizer) == .file {
                tokenizerBytes = try InputFile.read(tokenizer)
            } else {
                let s = try storeOptions.open()
                store = s
                let set = try s.tensorSet(try s.resolve(tokenizer).id)
                guard let entry = set.tokenizerEntry else { throw UserError("'\(tokenizer)' carries no tokenizer") }
                tokenizerBytes = try s.loadTensor(entry).buffer.withUnsafeBytes { Array($0) }
            }
            let tok = try TokenizerLoader.load(bytes: tokenizerBytes, name: tokenizer)
            let corpusBytes: [UInt8]
            if corpus == "arithmetic" {
                corpusBytes = Array(try ArithmeticCorpus.text(seed: corpusSeed, count: corpusDocuments, levels: lo...hi, answerLine: corpusAnswerLine).utf8)
            } else {
                do { corpusBytes = try InputFile.read(corpus) } catch {
                    throw UserError("--corpus '\(corpus)': no readable file (or 'arithmetic'): \(error.reason)")
                }
            }
            var modelConfig: ModelConfig
            if let config {
                let bytes: [UInt8]
                do { bytes = try InputFile.read(config) } catch { throw UserError("--config '\(config)': no readable file: \(error.reason)") }
                modelConfig = try ModelConfig(json: Data(bytes))
            } else {
                guard let family = ModelConfig.Family(rawValue: modelType) else { throw UserError("--model-type '\(modelType)': one of qwen2, llama, qwen3") }
                let eos = tok.tokenID("<|endoftext|>") ?? tok.tokenID("</s>") ?? (tok.vocabularySize > 2 ? 2 : nil)
                let bos = tok.tokenID("<s>") ?? (family == .llama && tok.vocabularySize > 1 ? 1 : nil)
                modelConfig = ModelConfig(modelType: family, vocabSize: tok.vocabularySize, hiddenSize: hidden, intermediateSize: intermediate,
                                          numHiddenLayers: layers, numAttentionHeads: heads, numKeyValueHeads: kvHeads, maxPositionEmbeddings: context,
                                          tieWordEmbeddings: true, bosTokenId: bos.map(Int.init), eosTokenIds: eos.map { [Int($0)] } ?? [], dtype: "float32")
            }
            do { try modelConfig.validate() } catch { throw UserError("the model config: \(error)") }

            let s = try store ?? storeOptions.open()
            var stage = PretrainStage(tokenizer: try s.put(tokenizerBytes, kind: .blob, codec: .auto).id,
                                       corpus: try s.put(corpusBytes, kind: .blob, codec: .auto).id, config: modelConfig,
                                       steps: steps, batch: batch, sequenceLength: seqLen,
                                       optimizer: try adam.config(key: "--lr/--weight-decay/--max-grad-norm"), seed: seed)
            stage.documents = corpus == "arithmetic" ? .paragraphs : PretrainStage.Documents(rawValue: documents ?? "lines")!
            if !json { stage.onStep = { step, loss in if step == 0 || (step + 1) % 10 == 0 || step + 1 == steps { print("step \(step + 1)/\(steps)  loss \(String(format: "%.4f", loss))") } } }
            let start = Date()
            let outcome = try StageRunner(store: s, run: runName ?? "pretrain").execute(stage)
            let model = try outcome.result.id("model")
            try s.updateRef(outRef, to: model)
            let m = outcome.result.metrics
            if json {
                printJSON(["id": .string(model.hex), "ref": .string(outRef.path), "skipped": .bool(outcome.skipped),
                           "seconds": .double(Date().timeIntervalSince(start)), "final_loss": m["final_loss"] ?? .null,
                           "parameters": m["parameters"] ?? .null, "corpus_tokens": m["corpus_tokens"] ?? .null, "losses": m["losses"] ?? .null])
            } else {
                print(model.hex)
                FileHandle.standardError.write(Data("\(outcome.skipped ? "found in the journal: " : "")\(m["parameters"]?.intValue ?? 0) parameters, \(m["corpus_tokens"]?.intValue ?? 0) corpus tokens, final loss \(String(format: "%.4f", m["final_loss"]?.doubleValue ?? 0)); wrote \(outRef)\n".utf8))
            }
        }
    }

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
            if InputFile.kind(data) == .file {
                let examples = try SFTData.parse(jsonl: Data(try InputFile.read(data)), path: data)
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
