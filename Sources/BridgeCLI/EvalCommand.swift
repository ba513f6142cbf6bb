// `bridge eval REF --data FILE [--limit N] [--adapter W]`: pass@1 of a model on a math dataset,
// through the tokenize and eval stages (run "eval" in the store's journal, so an unchanged
// evaluation is read back, not recomputed): each problem rendered as an eval prompt (template,
// instruction), answered in generation batches (greedy unless --temperature), graded by the
// rule-based grader against the record's reference answer.

import ArgumentParser
import Checkpoint
import Foundation
import LanguageModel
import Pipeline
import ShardStore
import Tokenizers
import Training

struct Eval: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Answer a dataset's problems with a model and grade them (pass@1).",
        discussion: """
            Prints progress to stderr and the accuracy at the end (--json: an object with accuracy, \
            correct, total, mean response tokens, the share cut at --max-tokens, per-level accuracy \
            when the dataset has levels). --out writes one JSON line per problem (id, response, \
            answer, extracted, correct).
            """)
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "A model: ref name, object id or unique id prefix (it must carry a tokenizer).") var ref: String
    @Option(help: "A JSONL dataset (GSM8K, MATH, MATH500, AIME24, AMC23, Minerva, OlympiadBench or bridge records), or 'synthetic'.") var data: String
    @Option(help: "Dataset format (default: detected from the first line's keys).") var format: String?
    @Option(help: "Evaluate at most this many problems (the first ones).") var limit: Int?
    @Option(help: "Chat template: \(ChatTemplate.names.joined(separator: ", ")).") var template = "raw"
    @Option(help: "A system prompt to put first.") var system: String?
    @Option(help: "instruction (problem + the boxed-answer instruction) or plain (problem only).") var promptStyle = "instruction"
    @Option(name: .customLong("max-tokens"), help: "Most tokens per answer.") var maxTokens = 512
    @Option(help: "Problems generated together.") var batch = 16
    @Option(help: "A LoRA adapter set to wear (ref or id), e.g. runs/RUN/lora.") var adapter: String?
    @Option(help: "Sampling temperature; 0 = greedy.") var temperature: Float = 0
    @Option(name: .customLong("top-p"), help: "Nucleus sampling mass in (0, 1].") var topP: Float = 1
    @Option(help: "Seed of the sampler (problem i samples from stream i of the eval-sample purpose).") var seed: UInt64 = 0
    @Option(help: "Synthetic task: seed.") var syntheticSeed: UInt64 = SyntheticArithmetic.defaultSeed
    @Option(help: "Synthetic task: difficulty level (1-5).") var level = SyntheticArithmetic.defaultLevel
    @Option(help: "Synthetic task: number of problems.") var count = 200
    @Option(help: "Synthetic task: train, validation or test.") var split = "test"
    @Option(help: "Synthetic task: arithmetic or equations.") var family = "arithmetic"
    @Option(help: "Write one JSON line per problem to this file.") var out: String?
    @Flag(help: "Print a JSON summary object.") var json = false

    func validate() throws {
        guard maxTokens > 0 else { throw ValidationError("--max-tokens must be > 0") }
        guard batch > 0 else { throw ValidationError("--batch must be > 0") }
        guard limit.map({ $0 > 0 }) ?? true else { throw ValidationError("--limit must be > 0") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be ≥ 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard ["instruction", "plain"].contains(promptStyle) else { throw ValidationError("unknown --prompt-style '\(promptStyle)' (instruction or plain)") }
    }

    func run() throws {
        let chat = try ChatTemplate(name: template)
        // every input is checked before any generation
        // (the dataset file is read once: checked here, stored for the tokenize stage below)
        var datasetBytes: [UInt8]? = nil
        var records: [MathRecord]
        if data == "synthetic" {
            records = try readDataset(data, format: format, synthetic: (syntheticSeed, level, count, split, family))
        } else {
            if let format { _ = try parseDatasetFormat(format) }
            do { datasetBytes = try InputFile.read(data) } catch { throw DatasetError.unreadable(file: data, reason: error.reason) }
            records = try TokenizeStage.records(bytes: datasetBytes!, file: data, format: format)
        }
        if let limit { records = Array(records.prefix(limit)) }
        guard !records.isEmpty else { throw UserError("\(data): no problems to evaluate") }
        // the model's config and tokenizer; the eval stage loads the weights
        let store = try storeOptions.open()
        let policy = try store.resolve(ref).id
        let set = try store.tensorSet(policy)
        let config = try store.modelConfig(of: set)
        let adapterID = try store.id(adapter)
        guard let tokenizerEntry = set.tokenizerEntry else {
            throw UserError("'\(ref)' carries no tokenizer, so problems cannot be encoded\nhint: import the model with its tokenizer")
        }
        let tokenizerBytes = try store.loadTensor(tokenizerEntry).buffer.withUnsafeBytes { Array($0) }
        let tokenizer = try TokenizerLoader.load(bytes: tokenizerBytes, name: "\(tokenizerEntry.name) of '\(ref)'")
        let prompts = try records.map {
            try TokenizeStage.promptTokens(for: $0, tokenizer: tokenizer, template: chat, systemPrompt: system, promptStyle: promptStyle)
        }
        let context = config.maxPositionEmbeddings
        if let (i, p) = prompts.enumerated().first(where: { $0.element.count + maxTokens > context }) {
            throw UserError("problem \(records[i].id): \(p.count) prompt tokens + --max-tokens \(maxTokens) exceed the context length \(context)\nhint: lower --max-tokens")
        }
        var lines: [UInt8]? = out.map { _ in [] }  // written whole at the end, through the export funnel

        // the tokenize and eval stages, journaled in run "eval" (an unchanged evaluation is not recomputed)
        let tokenizerID = try store.put(tokenizerBytes, kind: .blob, codec: .auto).id
        let source: DatasetSource = try datasetBytes.map { .blob(try store.put($0, kind: .blob, codec: .auto).id, format: format) }
            ?? .synthetic(seed: syntheticSeed, level: level, count: count, split: split, family: family)
        let runner = try StageRunner(store: store, run: "eval", log: { FileHandle.standardError.write(Data(($0 + "\n").utf8)) })
        let shard = try runner.execute(TokenizeStage(tokenizer: tokenizerID, source: source, kind: .eval, template: template, systemPrompt: system,
                                                     promptStyle: promptStyle, limit: limit)).result.id("shard")
        guard try TokenShard.load(from: store, id: shard).count == records.count else { throw UserError("\(data): the tokenized set differs from the dataset read") }
        let start = Date()
        let outcome = try runner.execute(EvalStage(policy: policy, adapter: adapterID, prompts: shard, tokenizer: tokenizerID, maxNewTokens: maxTokens,
                                                   temperature: temperature, topP: topP, seed: seed, generationBatch: batch))
        let responses = try Responses.load(from: store, id: try outcome.result.id("responses"))
        let scores = try ScoreStage.loadScores(from: store, id: try outcome.result.id("scores"))

        var correct = 0, responseTokens = 0, cut = 0
        var byLevel: [Int: (correct: Int, total: Int)] = [:]
        for (i, r) in records.enumerated() {
            let ids = responses.tokens[i], finished = responses.finished[i], ok = scores.correct[i]
            let text = tokenizer.decode(finished ? Array(ids.dropLast()) : ids, skipSpecialTokens: true)
            if ok { correct += 1 }
            responseTokens += ids.count
            if !finished { cut += 1 }
            if let level = r.level { byLevel[level, default: (0, 0)].total += 1; if ok { byLevel[level]!.correct += 1 } }
            if lines != nil {
                let line = JSONValue.object([
                    "id": .string(r.id), "response": .string(text), "answer": .string(r.answer),
                    "extracted": scores.extracted[i].isEmpty ? .null : .string(scores.extracted[i]), "correct": .bool(ok),
                    "tokens": .int(ids.count), "finished": .bool(finished),
                ]).canonical + "\n"
                lines!.append(contentsOf: line.utf8)
            }
        }
        if let out, let lines { try ExportFile.write(path: out, bytes: lines) }
        let total = records.count, accuracy = Double(correct) / Double(total)
        if json {
            var summary: [String: JSONValue] = [
                "accuracy": .double(accuracy), "correct": .int(correct), "total": .int(total),
                "response_tokens_mean": .double(Double(responseTokens) / Double(total)),
                "cut_at_max_tokens": .double(Double(cut) / Double(total)),
                "seconds": .double(Date().timeIntervalSince(start)), "skipped": .bool(outcome.skipped),
                "responses": outcome.result.outputs["responses"]!, "scores": outcome.result.outputs["scores"]!,
            ]
            if !byLevel.isEmpty {
                summary["by_level"] = .object(Dictionary(uniqueKeysWithValues: byLevel.map { ("\($0.key)", .double(Double($0.value.correct) / Double($0.value.total))) }))
            }
            printJSON(.object(summary))
        } else {
            print(String(format: "accuracy %.4f (%d/%d); %.1f response tokens on average, %.1f%% cut at --max-tokens",
                         accuracy, correct, total, Double(responseTokens) / Double(total), 100 * Double(cut) / Double(total)))
        }
    }
}
