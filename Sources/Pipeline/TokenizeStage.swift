// The tokenize stage: dataset records + a tokenizer + a chat template → a token shard
// (TokenShard). The prompt is the evaluation prompt of ALGORITHM.md (problem, newline,
// "Please reason step by step, and put your final answer within \boxed{}."), rendered as one
// user turn; an SFT target is the record's worked solution, followed by the template's
// end-of-turn marker (or, with the raw template, the tokenizer's end-of-sequence token) so a
// model learns to stop. Examples longer than the limits are dropped and counted.

import Foundation
import ShardStore
import Tokenizers
import Training

/// Where a tokenize stage's records come from.
public enum DatasetSource: Sendable, Equatable {
    /// A JSONL file stored as a blob (its format detected from its keys unless given).
    case blob(ObjectID, format: String?)
    /// The built-in synthetic arithmetic task.
    case synthetic(seed: UInt64, level: Int, count: Int, split: String, family: String = "arithmetic")
}

public struct TokenizeStage: Stage {
    public static let name = "tokenize"
    public static let version = 1

    public var tokenizer: ObjectID
    public var source: DatasetSource
    public var kind: TokenShard.Kind
    public var template: String
    public var systemPrompt: String?
    /// Prompt text: "instruction" (problem + newline + the boxed-answer instruction) or "plain" (problem only).
    public var promptStyle: String
    public var limit: Int?
    public var maxPromptTokens: Int?
    public var maxTokens: Int?

    public init(tokenizer: ObjectID, source: DatasetSource, kind: TokenShard.Kind, template: String = "raw",
                systemPrompt: String? = nil, promptStyle: String = "instruction", limit: Int? = nil,
                maxPromptTokens: Int? = nil, maxTokens: Int? = nil) {
        self.tokenizer = tokenizer
        self.source = source
        self.kind = kind
        self.template = template
        self.systemPrompt = systemPrompt
        self.promptStyle = promptStyle
        self.limit = limit
        self.maxPromptTokens = maxPromptTokens
        self.maxTokens = maxTokens
    }

    public var params: JSONValue {
        var p: [String: JSONValue] = ["kind": .string(kind.rawValue), "template": .string(template), "prompt_style": .string(promptStyle)]
        if let systemPrompt { p["system_prompt"] = .string(systemPrompt) }
        if let limit { p["limit"] = .int(limit) }
        if let maxPromptTokens { p["max_prompt_tokens"] = .int(maxPromptTokens) }
        if let maxTokens { p["max_tokens"] = .int(maxTokens) }
        switch source {
        case let .blob(_, format): if let format { p["format"] = .string(format) }
        case let .synthetic(seed, level, count, split, family):
            var o: [String: JSONValue] = ["seed": .int(Int(truncatingIfNeeded: seed)), "level": .int(level), "count": .int(count), "split": .string(split)]
            if family != SyntheticArithmetic.Family.arithmetic.rawValue { o["family"] = .string(family) }  // earlier keys unchanged
            p["synthetic"] = .object(o)
        }
        return .object(p)
    }

    public var inputs: [String: JSONValue] {
        var i: [String: JSONValue] = ["tokenizer": .string(tokenizer.hex)]
        if case let .blob(id, _) = source { i["dataset"] = .string(id.hex) }
        return i
    }

    /// The records the stage reads.
    public static func records(of source: DatasetSource, in store: Store) throws -> [MathRecord] {
        switch source {
        case let .blob(id, format):
            return try records(bytes: try store.read(id).array, file: "dataset \(id.hex.prefix(12))", format: format)
        case let .synthetic(seed, level, count, split, family):
            guard let s = SyntheticArithmetic.Split(rawValue: split) else {
                throw PipelineError.invalidInput("unknown synthetic split '\(split)' (train, validation or test)")
            }
            guard let f = SyntheticArithmetic.Family(rawValue: family) else {
                throw PipelineError.invalidInput("unknown synthetic family '\(family)' (arithmetic or equations)")
            }
            return try SyntheticArithmetic(seed: seed, level: level, family: f).records(count: count, split: s)
        }
    }

    public func run(in store: Store) throws -> StageResult {
        let tok = try TokenizerLoader.load(bytes: try store.read(tokenizer).array, name: "tokenizer \(tokenizer.hex.prefix(12))")
        let chat = try ChatTemplate(name: template)
        var records = try Self.records(of: source, in: store)
        if let limit { records = Array(records.prefix(limit)) }
        let eos = Self.endOfSequence(tok, template: chat)
        let bos = Self.beginningOfSequence(tok, template: chat)

        var sequences: [[Int32]] = [], promptLengths: [Int] = [], answers: [String] = [], ids: [String] = []
        var droppedLong = 0, droppedNoTarget = 0
        for r in records {
            var prompt: [Int32]
            var completion: [Int32] = []
            if kind == .sft {
                guard let target = r.target, !target.isEmpty else { droppedNoTarget += 1; continue }
                let messages = Self.messages(for: r, template: chat, systemPrompt: systemPrompt, promptStyle: promptStyle)
                let (p, c) = try chat.renderCompletion(prompt: messages, reply: target)
                prompt = (bos.map { [$0] } ?? []) + tok.encode(p)
                completion = tok.encode(c) + (eos.map { [$0] } ?? [])
            } else {
                prompt = try Self.promptTokens(for: r, tokenizer: tok, template: chat, systemPrompt: systemPrompt, promptStyle: promptStyle)
            }
            if let maxPromptTokens, prompt.count > maxPromptTokens { droppedLong += 1; continue }
            if let maxTokens, prompt.count + completion.count > maxTokens { droppedLong += 1; continue }
            sequences.append(prompt + completion)
            promptLengths.append(prompt.count)
            answers.append(r.answer)
            ids.append(r.id)
        }
        guard !sequences.isEmpty else {
            throw PipelineError.invalidInput("tokenize: no examples left (\(records.count) records, \(droppedLong) over the length limits, \(droppedNoTarget) without a target)")
        }
        let shard = TokenShard(kind: kind, sequences: sequences, promptLengths: promptLengths, answers: answers, recordIDs: ids,
                               metadata: ["template": .string(template), "tokenizer": .string(tokenizer.hex),
                                          "bos": bos.map { .int(Int($0)) } ?? .null, "eos": eos.map { .int(Int($0)) } ?? .null])
        let id = try shard.store(in: store)
        let lengths = sequences.map(\.count)
        let targets = zip(lengths, promptLengths).map { $0 - $1 }
        return StageResult(outputs: ["shard": .string(id.hex)], metrics: [
            "examples": .int(shard.count), "tokens": .int(shard.tokenCount),
            "dropped_too_long": .int(droppedLong), "dropped_no_target": .int(droppedNoTarget),
            "prompt_tokens_mean": .double(Double(promptLengths.reduce(0, +)) / Double(shard.count)),
            "prompt_tokens_max": .int(promptLengths.max()!),
            "target_tokens_mean": .double(Double(targets.reduce(0, +)) / Double(shard.count)),
            "tokens_max": .int(lengths.max()!),
        ])
    }

    /// The records of a dataset file's bytes as the stage reads them (the command line validates
    /// the bytes it is about to store with it; errors name `file`).
    public static func records(bytes: [UInt8], file: String, format: String?) throws -> [MathRecord] {
        try DatasetReader.records(from: try JSONLines.parse(bytes, file: file), file: file, stem: "dataset",
                                  format: format.flatMap(DatasetFormat.init(rawValue:)))
    }

    /// The prompt turn(s) of a record: the system prompt if any, then the problem (with the
    /// boxed-answer instruction unless `promptStyle` is plain; raw text ends with a newline).
    public static func messages(for r: MathRecord, template chat: ChatTemplate, systemPrompt: String?, promptStyle: String) -> [ChatMessage] {
        var messages: [ChatMessage] = []
        if let systemPrompt { messages.append(.system(systemPrompt)) }
        let text = promptStyle == "plain" ? r.prompt : r.evaluationPrompt
        messages.append(.user(chat == .raw ? text + "\n" : text))
        return messages
    }

    /// A record's prompt tokens as an rl/eval shard holds them: the rendered messages with the
    /// generation prompt, after the BOS the tokenizer's models expect outside any template.
    public static func promptTokens(for r: MathRecord, tokenizer tok: any Tokenizer, template chat: ChatTemplate,
                                    systemPrompt: String?, promptStyle: String) throws -> [Int32] {
        var prompt = tok.encode(try chat.render(messages(for: r, template: chat, systemPrompt: systemPrompt, promptStyle: promptStyle),
                                                addGenerationPrompt: true))
        if let bos = beginningOfSequence(tok, template: chat) { prompt.insert(bos, at: 0) }
        return prompt
    }

    /// Tokens that end a generated answer under a template: its end-of-turn token, or under the
    /// raw template the tokenizer's end-of-sequence token.
    public static func stopTokens(_ tok: any Tokenizer, template chat: ChatTemplate) -> [Int32] {
        if let eos = endOfSequence(tok, template: chat) { return [eos] }
        return tok.tokenID(chat.endOfTurn).map { [$0] } ?? []
    }

    /// The token that ends a completion when the template's end-of-turn text does not: the
    /// tokenizer's end-of-sequence token under the raw template (llama2.c's 2, `<|endoftext|>`, ...).
    static func endOfSequence(_ tok: any Tokenizer, template: ChatTemplate) -> Int32? {
        guard template == .raw else { return nil }
        if tok is Llama2CTokenizer { return Llama2CTokenizer.eosID }
        for name in ["<|endoftext|>", "<|end_of_text|>", "</s>", "<|eot_id|>", "<|im_end|>"] {
            if let id = tok.tokenID(name) { return id }
        }
        return nil
    }

    /// A leading BOS for tokenizers whose models expect one outside any template (llama2.c).
    static func beginningOfSequence(_ tok: any Tokenizer, template: ChatTemplate) -> Int32? {
        tok is Llama2CTokenizer ? Llama2CTokenizer.bosID : nil
    }
}
