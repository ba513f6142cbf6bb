// Stages that bring a model in or train it outside a pipeline file, so the commands that do so
// (`ckpt import --run`, `bridge train sft`) are thin: they parse options, build the stage and
// let the StageRunner journal it (an unchanged import or training is read back, not redone).
//
// import: a safetensors file, a Hugging Face directory or a llama2.c file → a tensor set. The
//   key holds the digests of the files read, not their paths: the same bytes from another
//   place are the same import.
// train-sft: plain supervised fine-tuning (SFTTrainer: token-mean loss, constant LR, AdamW,
//   examples in a seeded epoch order) of a model on an SFT token shard → θ′.

import Checkpoint
import Foundation
import LanguageModel
import ShardStore
import Tensors
import Tokenizers
import Training

public struct ImportStage: Stage {
    public static let name = "import"
    /// 4: a Hugging Face directory's llama2.c tokenizer.bin is imported with the model.
    public static let version = 4

    public enum Source: Sendable, Equatable {
        case safetensors(String)
        case huggingFace(directory: String)
        case llama2c(file: String, tokenizer: String)
    }

    public var source: Source
    /// File name → xxh3 digest of its bytes (the files the import reads).
    var digests: [String: JSONValue]

    /// Reads the digests of the source's files (errors name the file).
    public init(_ source: Source, store: Store) throws {
        self.source = source
        var files: [(String, String)] = []
        switch source {
        case let .safetensors(path): files = [("model.safetensors", path)]
        case let .llama2c(file, tokenizer): files = [("model.bin", file), ("tokenizer.bin", tokenizer)]
        case let .huggingFace(dir):
            let names: [String]
            do { names = try InputFile.list(dir) } catch {
                throw ModelCheckpointError.badFile(path: dir, reason: "not a readable directory (\(error.reason))")
            }
            for name in names where !name.hasPrefix(".") && InputFile.kind(dir + "/" + name) == .file {
                files.append((name, dir + "/" + name))
            }
        }
        var digests: [String: JSONValue] = [:]
        for (name, path) in files {
            do { try InputFile.checkReadable(path) } catch { throw ModelCheckpointError.badFile(path: path, reason: error.reason) }
            do { digests[name] = .string(try store.fileDigest(path: path).hex) } catch {
                throw ModelCheckpointError.badFile(path: path, reason: "cannot be read: \(error)")
            }
        }
        self.digests = digests
    }

    var format: String {
        switch source {
        case .safetensors: "safetensors"
        case .huggingFace: "hf"
        case .llama2c: "llama2c"
        }
    }

    public var params: JSONValue { ["format": .string(format), "files": .object(digests)] }
    public var inputs: [String: JSONValue] { [:] }

    public func run(in store: Store) throws -> StageResult {
        let set: TensorSet
        switch source {
        case let .safetensors(path): set = try store.importSafetensors(path: path)
        case let .huggingFace(dir): set = try store.importHuggingFace(directory: dir)
        case let .llama2c(file, tokenizer): set = try store.importLlama2c(file: file, tokenizer: tokenizer)
        }
        return StageResult(outputs: ["set": .string(set.id!.hex)], metrics: ["bytes": .int(set.byteCount), "tensors": .int(set.tensors.count)])
    }
}

public struct TrainSFTStage: Stage {
    public static let name = "train-sft"
    public static let version = 1

    public var model: ObjectID
    /// An SFT token shard (prompt tokens, then the target tokens the loss is taken on).
    public var data: ObjectID
    public var config: SFTConfig
    /// Called after each optimizer step with (step, loss); not part of the key.
    public var onStep: (Int, Float) -> Void = { _, _ in }

    public init(model: ObjectID, data: ObjectID, config: SFTConfig) {
        self.model = model
        self.data = data
        self.config = config
    }

    public var params: JSONValue {
        let o = config.optimizer
        return ["steps": .int(config.steps), "batch": .int(config.batch), "learning_rate": .double(Double(o.lr)),
                "weight_decay": .double(Double(o.weightDecay)), "max_grad_norm": o.clip.map { .double(Double($0)) } ?? .null,
                "seed": .int(Int(config.seed))]
    }
    public var inputs: [String: JSONValue] { ["model": .string(model.hex), "data": .string(data.hex)] }

    public func run(in store: Store) throws -> StageResult {
        let set = try store.tensorSet(model)
        let loaded = try store.loadModel(set)
        if loaded.adapter != nil {
            throw PipelineError.invalidInput("model \(model.hex.prefix(12)) carries a LoRA adapter; export it with --merge-lora and re-import to train the merged weights")
        }
        let shard = try TokenShard.load(from: store, id: data)
        guard shard.kind == .sft else {
            throw PipelineError.invalidInput("token shard \(data.hex.prefix(12)) is a \(shard.kind.rawValue) shard; SFT needs one made with --kind sft")
        }
        let examples = (0..<shard.count).map { SFTExample(tokens: shard.sequences[$0], lossFrom: shard.promptLengths[$0], line: $0 + 1) }
        var metrics = try trainInPlace(loaded.model, examples: examples, config: config, path: "token shard \(data.hex.prefix(12))", onStep: onStep)
        metrics["examples"] = .int(examples.count)
        let theta = try store.putModel(params: loaded.model.params, layout: loaded.model.layout, like: set, recordParent: false)
        return StageResult(outputs: ["theta": .string(theta.id!.hex)], metrics: metrics)
    }
}

/// A base model from random weights: `config`'s architecture initialised as transformers does
/// (N(0, 0.02), unit norms, zero biases) from the `pretrain-init` stream, then plain next-token
/// training on a text corpus (one document per line, or per paragraph: documents separated by a
/// blank line, lines within kept; each encoded with the tokenizer's special tokens and ended with
/// EOS, concatenated and cut into windows of `sequenceLength` tokens) with
/// SFTTrainer (token-mean loss over every predicted token, AdamW, windows in a seeded epoch order).
public struct PretrainStage: Stage {
    public static let name = "pretrain"
    public static let version = 1

    /// A tokenizer file as a blob (tokenizer.json or a llama2.c tokenizer.bin).
    public var tokenizer: ObjectID
    /// UTF-8 text, one document per line (or per paragraph, as `documents` says).
    public var corpus: ObjectID
    /// How the corpus is cut into documents.
    public var documents: Documents = .lines
    public enum Documents: String, Sendable, CaseIterable {
        /// One document per line.
        case lines
        /// Documents separated by a blank line; a document may span lines.
        case paragraphs
    }
    public var config: ModelConfig
    public var steps: Int
    public var batch: Int
    public var sequenceLength: Int
    public var optimizer: AdamWConfig
    public var seed: UInt64
    /// Called after each optimizer step with (step, loss); not part of the key.
    public var onStep: (Int, Float) -> Void = { _, _ in }

    public init(tokenizer: ObjectID, corpus: ObjectID, config: ModelConfig, steps: Int, batch: Int, sequenceLength: Int,
                optimizer: AdamWConfig, seed: UInt64) {
        self.tokenizer = tokenizer
        self.corpus = corpus
        self.config = config
        self.steps = steps
        self.batch = batch
        self.sequenceLength = sequenceLength
        self.optimizer = optimizer
        self.seed = seed
    }

    var configJSON: JSONValue { (try? JSONValue(parsing: [UInt8](config.hfConfigJSON()))) ?? .null }

    public var params: JSONValue {
        var p: [String: JSONValue] = ["config": configJSON, "steps": .int(steps), "batch": .int(batch), "sequence_length": .int(sequenceLength),
                                      "learning_rate": .double(Double(optimizer.lr)), "weight_decay": .double(Double(optimizer.weightDecay)),
                                      "max_grad_norm": optimizer.clip.map { .double(Double($0)) } ?? .null, "seed": .int(Int(bitPattern: UInt(seed)))]
        if documents != .lines { p["documents"] = .string(documents.rawValue) }  // the keys of line corpora unchanged
        return .object(p)
    }

    /// The corpus cut into documents.
    static func documents(of text: String, _ kind: Documents) -> [String] {
        switch kind {
        case .lines:
            return text.split(separator: "\n", omittingEmptySubsequences: true).map(String.init)
        case .paragraphs:
            var docs: [String] = [], current: [Substring] = []
            for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
                if line.allSatisfy({ $0 == " " || $0 == "\t" || $0 == "\r" }) {
                    if !current.isEmpty { docs.append(current.joined(separator: "\n")); current = [] }
                } else {
                    current.append(line)
                }
            }
            if !current.isEmpty { docs.append(current.joined(separator: "\n")) }
            return docs
        }
    }
    public var inputs: [String: JSONValue] { ["tokenizer": .string(tokenizer.hex), "corpus": .string(corpus.hex)] }

    public func run(in store: Store) throws -> StageResult {
        let tokenizerBytes = try store.read(tokenizer).array
        let tok = try TokenizerLoader.load(bytes: tokenizerBytes, name: "tokenizer \(tokenizer.hex.prefix(12))")
        guard tok.vocabularySize <= config.vocabSize else {
            throw PipelineError.invalidInput("the tokenizer has \(tok.vocabularySize) tokens; the model's vocab_size is \(config.vocabSize)")
        }
        guard sequenceLength >= 2, sequenceLength <= config.maxPositionEmbeddings else {
            throw PipelineError.invalidInput("sequence length \(sequenceLength) must be in 2...\(config.maxPositionEmbeddings) (max_position_embeddings)")
        }
        let text = String(decoding: try store.read(corpus).array, as: UTF8.self)
        var stream: [Int32] = []
        let eos = config.eosTokenIds.first.map(Int32.init)
        for document in Self.documents(of: text, documents) {
            stream += tok.encode(document, addSpecialTokens: true)
            if let eos { stream.append(eos) }
        }
        let windows = stream.count / sequenceLength
        guard windows >= 1 else {
            throw PipelineError.invalidInput("the corpus is \(stream.count) tokens, shorter than one window of \(sequenceLength)")
        }
        let examples = (0..<windows).map { i in
            SFTExample(tokens: Array(stream[(i * sequenceLength)..<((i + 1) * sequenceLength)]), lossFrom: 1, line: i + 1)
        }
        let model = try Transformer(randomWeights: config, seed: Philox.derive(seed: seed, purpose: "pretrain-init"))
        var metrics = try trainInPlace(model, examples: examples,
                                       config: SFTConfig(steps: steps, batch: batch, optimizer: optimizer, seed: Philox.derive(seed: seed, purpose: "pretrain-order")),
                                       path: "corpus \(corpus.hex.prefix(12))", onStep: onStep)
        metrics["corpus_tokens"] = .int(stream.count)
        metrics["windows"] = .int(windows)
        metrics["parameters"] = .int(model.layout.totalCount)
        let fileName = TokenizerLoader.format(of: tokenizerBytes) == .huggingFaceJSON ? "tokenizer.json" : "tokenizer.bin"
        let set = try store.putNewModel(params: model.params, config: config, tokenizerFile: (fileName, tokenizerBytes))
        return StageResult(outputs: ["model": .string(set.id!.hex)], metrics: metrics)
    }
}

/// Trains `model` in place with SFTTrainer; the losses, the final loss and the seconds as metrics.
private func trainInPlace(_ model: Transformer, examples: [SFTExample], config: SFTConfig, path: String,
                          onStep: (Int, Float) -> Void) throws -> [String: JSONValue] {
    let trainer = try SFTTrainer(model: model, examples: examples, config: config, path: path)
    let start = Date()
    let losses = try trainer.run(progress: onStep)
    return ["losses": .array(losses.map { .double(Double($0)) }), "final_loss": .double(Double(losses.last ?? 0)),
            "seconds": .double(Date().timeIntervalSince(start))]
}
