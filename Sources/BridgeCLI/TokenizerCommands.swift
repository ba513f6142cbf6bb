// `bridge tokenizer ...`: encode and decode files line by line, describe a tokenizer, and benchmark
// encode throughput (compare with tools/bench_tokenizers.py, which runs Hugging Face `tokenizers`).
// TOKENIZER is a tokenizer.json or a llama2.c tokenizer .bin path, or a model ref carrying one.

import ArgumentParser
import Foundation
import ShardStore
import Tokenizers

struct TokenizerCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenizer", abstract: "Encode, decode and benchmark tokenizers (tokenizer.json, llama2.c .bin).",
        subcommands: [TokenizerEncode.self, TokenizerDecode.self, TokenizerInfo.self, TokenizerBench.self])
}

/// Options every tokenizer subcommand shares.
struct TokenizerOptions: ParsableArguments {
    @Argument(help: "A tokenizer.json (Hugging Face byte-level BPE), a llama2.c tokenizer .bin (e.g. tok512.bin), or a model ref that carries one.")
    var tokenizer: String

    @OptionGroup var storeOptions: StoreOptions

    @Option(name: .long, help: "Input file, one item per line ('-' for standard input).")
    var input: String

    func load() throws -> any Tokenizer { try TokenizerArgument(tokenizer, store: try storeOptions.open()).tokenizer }

    /// The input's lines as raw bytes (a final newline ends the last line rather than starting one).
    func lines() throws -> [ArraySlice<UInt8>] {
        let bytes: [UInt8]
        if input == "-" {
            bytes = [UInt8](FileHandle.standardInput.readDataToEndOfFile())
        } else {
            do { bytes = try InputFile.read(input) } catch { throw UserError("cannot read input '\(input)': \(error.reason)") }
        }
        var lines = bytes.split(separator: 0x0A, omittingEmptySubsequences: false)
        if bytes.last == 0x0A { lines.removeLast() }
        return lines
    }

    /// The input's lines as text: UTF-8 lines, or with `jsonl` one JSON string per line.
    func texts(jsonl: Bool) throws -> [String] {
        try lines().enumerated().map { n, line in
            let text = try UTF8Text.string(line, source: input, line: n + 1)
            guard jsonl else { return text }
            guard case let .string(s)? = try? JSONValue(parsing: text) else {
                throw UserError("\(input):\(n + 1): not a JSON string\nhint: with --jsonl every line is a JSON string like \"text\\nmore\"")
            }
            return s
        }
    }
}

struct TokenizerEncode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "encode", abstract: "Print the token ids of each input line (space-separated, or a JSON array with --json).")

    @OptionGroup var options: TokenizerOptions

    @Flag(name: .long, help: "Print one JSON array of ids per input line.")
    var json = false

    @Flag(name: .long, help: "Each input line is a JSON string (so texts may contain newlines).")
    var jsonl = false

    @Flag(name: .long, help: "Add the tokenizer's special tokens (Llama-3's <|begin_of_text|>, llama2.c's BOS).")
    var addSpecialTokens = false

    func run() throws {
        let tokenizer = try options.load()
        let texts = try options.texts(jsonl: jsonl)  // every line is checked before anything is printed
        var out = ""
        for text in texts {
            let ids = tokenizer.encode(text, addSpecialTokens: addSpecialTokens)
            out += json ? "[" + ids.map(String.init).joined(separator: ",") + "]\n" : ids.map(String.init).joined(separator: " ") + "\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }
}

struct TokenizerDecode: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "decode", abstract: "Print the text of each input line of ids (a JSON array, or ids separated by spaces).")

    @OptionGroup var options: TokenizerOptions

    @Flag(name: .long, help: "Print one JSON string per line (texts may contain newlines).")
    var json = false

    @Flag(name: .long, help: "Leave special tokens out of the text.")
    var skipSpecialTokens = false

    func run() throws {
        let tokenizer = try options.load()
        var lists: [[Int32]] = []
        for (n, text) in try options.texts(jsonl: false).enumerated() {
            lists.append(try parseIDs(text, line: n + 1, tokenizer: tokenizer))
        }
        var out = ""
        for ids in lists {
            let text = tokenizer.decode(ids, skipSpecialTokens: skipSpecialTokens)
            out += (json ? JSONValue.string(text).canonical : text) + "\n"
        }
        FileHandle.standardOutput.write(Data(out.utf8))
    }

    private func parseIDs(_ text: String, line: Int, tokenizer: any Tokenizer) throws -> [Int32] {
        let trimmed = text.trimmingCharacters(in: .whitespaces)
        var values: [Int] = []
        if trimmed.hasPrefix("[") {
            guard case let .array(items)? = try? JSONValue(parsing: trimmed) else {
                throw UserError("\(options.input):\(line): not a JSON array of token ids")
            }
            for item in items {
                guard let v = item.intValue else { throw UserError("\(options.input):\(line): '\(item.canonical)' is not a token id") }
                values.append(v)
            }
        } else {
            for word in trimmed.split(whereSeparator: { $0 == " " || $0 == "\t" }) {
                guard let v = Int(word) else { throw UserError("\(options.input):\(line): '\(word)' is not a token id") }
                values.append(v)
            }
        }
        return try values.map { v in
            guard let id = Int32(exactly: v), tokenizer.contains(id) else {
                throw UserError("\(options.input):\(line): token id \(v) is not in the vocabulary of '\(tokenizer.name)' (\(tokenizer.vocabularySize) ids)")
            }
            return id
        }
    }
}

struct TokenizerInfo: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "info", abstract: "Describe a tokenizer: kind, vocabulary size, special tokens.")

    @Argument(help: "A tokenizer.json, a llama2.c tokenizer .bin, or a model ref that carries one.")
    var tokenizer: String

    @OptionGroup var storeOptions: StoreOptions

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        let tok = try TokenizerArgument(tokenizer, store: try storeOptions.open()).tokenizer
        let kind = tok is Llama2CTokenizer ? "llama2.c" : "byte-level BPE (tokenizer.json)"
        let specials = (0..<Int32(tok.vocabularySize)).filter { tok.isSpecial($0) }
        let listed = specials.prefix(64).map { JSONValue.object(["id": .int(Int($0)), "token": .string(tok.token($0) ?? "")]) }
        if json {
            printJSON(.object(["tokenizer": .string(tok.name), "kind": .string(kind), "vocabulary_size": .int(tok.vocabularySize),
                               "special_tokens": .int(specials.count), "special": .array(listed)]))
        } else {
            print("tokenizer: \(tok.name)\nkind: \(kind)\nvocabulary size: \(tok.vocabularySize)\nspecial tokens: \(specials.count)")
            for s in specials.prefix(16) { print("  \(s)\t\(JSONValue.string(tok.token(s) ?? "").canonical)") }
            if specials.count > 16 { print("  ...") }
        }
    }
}

struct TokenizerBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Encode throughput on the input texts, single-threaded (release build; compare with tools/bench_tokenizers.py).")

    @OptionGroup var options: TokenizerOptions

    @Flag(name: .long, help: "Each input line is a JSON string (so texts may contain newlines).")
    var jsonl = false

    @Option(name: .long, help: "Timed passes over the input after the first (cold) one.")
    var repeats = 5

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        var clock = ContinuousClock.now
        let tokenizer = try options.load()
        let loadSeconds = seconds(since: clock)
        let texts = try options.texts(jsonl: jsonl)
        let bytes = texts.reduce(0) { $0 + $1.utf8.count }
        var passes: [Double] = []
        var tokens = 0
        var checksum: UInt64 = 0
        for pass in 0...max(repeats, 1) {
            clock = ContinuousClock.now
            var count = 0
            var hash: UInt64 = 0xCBF2_9CE4_8422_2325
            for text in texts {
                let ids = tokenizer.encode(text, addSpecialTokens: false)
                count += ids.count
                if pass == 0 { for id in ids { hash = fnv1a(hash, id) } }
            }
            passes.append(seconds(since: clock))
            if pass == 0 { tokens = count; checksum = hash }
        }
        let cold = passes[0], warm = passes.dropFirst().sorted()
        let best = warm.first!, median = warm[warm.count / 2]
        let mb = Double(bytes) / 1e6
        if json {
            printJSON(.object([
                "tokenizer": .string(tokenizer.name), "texts": .int(texts.count), "bytes": .int(bytes), "tokens": .int(tokens),
                "ids_fnv1a": .string(String(checksum, radix: 16)), "load_seconds": .double(loadSeconds),
                "cold_mb_per_s": .double(mb / cold), "best_mb_per_s": .double(mb / best), "median_mb_per_s": .double(mb / median),
                "best_tokens_per_s": .double(Double(tokens) / best),
            ]))
        } else {
            print("bridge tokenizer bench: \(tokenizer.name)")
            print("  load \(fmt(loadSeconds)) s; \(texts.count) texts, \(bytes) bytes, \(tokens) tokens, ids fnv1a \(String(checksum, radix: 16))")
            print("  cold pass \(fmt(mb / cold)) MB/s; warm best \(fmt(mb / best)) MB/s, median \(fmt(mb / median)) MB/s, \(fmt(Double(tokens) / best / 1e6)) M tokens/s")
        }
    }

    private func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }

    private func fmt(_ x: Double) -> String { String(format: "%.3f", x) }

    /// FNV-1a over the ids as little-endian int32 (tools/bench_tokenizers.py computes the same).
    private func fnv1a(_ h: UInt64, _ id: Int32) -> UInt64 {
        var h = h
        let v = UInt32(bitPattern: id)
        for k in 0..<4 { h = (h ^ UInt64(v >> (8 * k) & 0xFF)) &* 0x100_0000_01B3 }
        return h
    }
}
