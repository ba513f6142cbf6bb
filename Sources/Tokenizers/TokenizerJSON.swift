// Reading a Hugging Face tokenizer.json into the parts ByteLevelBPETokenizer runs. Only what the
// Qwen2/Qwen2.5/Qwen3 and Llama-3 files (and GPT-2 style byte-level files) use is accepted;
// anything else is an error naming the file and the key. `truncation` and `padding` are ignored
// (they are per-call options in transformers too).

import IO

/// The pieces of a byte-level BPE tokenizer.json.
struct TokenizerJSONConfig {
    var vocabulary: [String: Int32] = [:]
    var merges: [(String, String)] = []
    var ignoreMerges = false
    var unknownToken: String?
    var fuseUnknown = false
    var addedTokens: [AddedToken] = []
    var nfc = false
    var split: SplitPattern?
    var addPrefixSpace = false
    var byteLevelRegex = false
    var prefixIDs: [Int32] = []
    var suffixIDs: [Int32] = []
}

/// A JSON value with the dotted path it was found at, for errors (nil value: missing or null).
private struct Node {
    let value: JSONValue?
    let path: String
    let file: String

    subscript(key: String) -> Node {
        var v = value?[key]
        if case .null? = v { v = nil }
        return Node(value: v, path: path.isEmpty ? key : "\(path).\(key)", file: file)
    }

    var isNull: Bool { value == nil }

    func invalid(_ reason: String) -> TokenizerError { .invalidValue(file: file, key: path, reason: reason) }

    func object() throws -> [String: JSONValue] {
        guard let value else { throw TokenizerError.missingKey(file: file, key: path) }
        guard case let .object(o) = value else { throw invalid("expected an object") }
        return o
    }

    func array() throws -> [JSONValue] {
        guard let value else { throw TokenizerError.missingKey(file: file, key: path) }
        guard case let .array(a) = value else { throw invalid("expected an array") }
        return a
    }

    func string() throws -> String {
        guard let value else { throw TokenizerError.missingKey(file: file, key: path) }
        guard case let .string(s) = value else { throw invalid("expected a string") }
        return s
    }

    func bool(default d: Bool) throws -> Bool {
        guard let value else { return d }
        guard case let .bool(b) = value else { throw invalid("expected true or false") }
        return b
    }

    func int() throws -> Int {
        guard let value else { throw TokenizerError.missingKey(file: file, key: path) }
        guard let i = value.intValue else { throw invalid("expected an integer") }
        return i
    }

    func element(_ i: Int) throws -> Node {
        let a = try array()
        var v: JSONValue? = a[i]
        if case .null? = v { v = nil }
        return Node(value: v, path: "\(path)[\(i)]", file: file)
    }

    func type() throws -> String { try self["type"].string() }
}

extension TokenizerJSONConfig {
    static let supportedModels = "model type BPE (byte-level, as Qwen2/Qwen2.5/Qwen3, Llama-3 and GPT-2 use)"
    static let supportedPreTokenizers =
        "ByteLevel, or Sequence[Split(regex of Qwen2 or Llama-3, Isolated), ByteLevel(use_regex: false)]"

    init(json bytes: [UInt8], file: String) throws {
        let parsed: JSONValue
        do {
            parsed = try JSONValue(parsing: bytes)
        } catch {
            throw TokenizerError.invalidJSON(file: file, reason: error.description)
        }
        guard case .object = parsed else { throw TokenizerError.invalidJSON(file: file, reason: "the top level is not an object") }
        let root = Node(value: parsed, path: "", file: file)
        try readModel(root["model"], file: file)
        try readNormalizer(root["normalizer"], file: file)
        try readPreTokenizer(root["pre_tokenizer"], file: file)
        try readDecoder(root["decoder"], file: file)
        try readAddedTokens(root["added_tokens"])
        try readPostProcessor(root["post_processor"], file: file)
    }

    private mutating func readModel(_ model: Node, file: String) throws {
        _ = try model.object()
        let type = model["type"].isNull ? "BPE" : try model.type()
        guard type == "BPE" else {
            throw TokenizerError.unsupported(file: file, key: "model.type", value: type, supported: Self.supportedModels)
        }
        if let d = model["dropout"].value?.doubleValue, d != 0 {
            throw TokenizerError.unsupported(file: file, key: "model.dropout", value: "\(d)", supported: "no BPE dropout (null or 0)")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] where !model[key].isNull {
            let v = try model[key].string()
            if !v.isEmpty {
                throw TokenizerError.unsupported(file: file, key: "model.\(key)", value: v, supported: "byte-level BPE without one (null)")
            }
        }
        if try model["byte_fallback"].bool(default: false) {
            throw TokenizerError.unsupported(file: file, key: "model.byte_fallback", value: "true",
                                             supported: "byte-level BPE, which needs no byte fallback (false)")
        }
        ignoreMerges = try model["ignore_merges"].bool(default: false)
        fuseUnknown = try model["fuse_unk"].bool(default: false)
        unknownToken = model["unk_token"].isNull ? nil : try model["unk_token"].string()

        let vocab = model["vocab"]
        // mapValues keeps the parsed object's hash table: the 150k tokens of a Qwen vocabulary are
        // not hashed a second time. An invalid id becomes -1, and the error names the first such
        // token in sorted order (the same one on every run).
        vocabulary = try vocab.object().mapValues { $0.intValue.flatMap { Int32(exactly: $0) }.flatMap { $0 >= 0 ? $0 : nil } ?? -1 }
        if vocabulary.values.contains(-1), let token = vocabulary.filter({ $0.value < 0 }).keys.min() {
            throw vocab.invalid("id of '\(token)' is not a non-negative integer")
        }
        if let unk = unknownToken, vocabulary[unk] == nil {
            throw model["unk_token"].invalid("'\(unk)' is not in model.vocab")
        }
        let mergesNode = model["merges"]
        let list = try mergesNode.array()
        merges.reserveCapacity(list.count)
        for (i, item) in list.enumerated() {
            switch item {
            case let .array(pair):
                guard pair.count == 2, case let .string(a) = pair[0], case let .string(b) = pair[1] else {
                    throw mergesNode.invalid("entry \(i) is not a pair of token strings")
                }
                merges.append((a, b))
            case let .string(s):
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                guard parts.count == 2 else { throw mergesNode.invalid("entry \(i) '\(s)' is not two tokens separated by one space") }
                merges.append((String(parts[0]), String(parts[1])))
            default:
                throw mergesNode.invalid("entry \(i) is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }
    }

    private mutating func readNormalizer(_ node: Node, file: String) throws {
        guard !node.isNull else { return }
        let type = try node.type()
        switch type {
        case "NFC": nfc = true
        case "Sequence":
            let items = node["normalizers"]
            for i in 0..<(try items.array().count) { try readNormalizer(try items.element(i), file: file) }
        default:
            throw TokenizerError.unsupported(file: file, key: "\(node.path).type", value: type, supported: "normalizer null or NFC (as Qwen uses)")
        }
    }

    private mutating func readPreTokenizer(_ node: Node, file: String) throws {
        guard !node.isNull else {
            throw TokenizerError.unsupported(file: file, key: "pre_tokenizer", value: "null", supported: Self.supportedPreTokenizers)
        }
        let type = try node.type()
        switch type {
        case "ByteLevel":
            try readByteLevel(node)
        case "Sequence":
            let items = node["pretokenizers"]
            let count = try items.array().count
            guard count == 2, try items.element(0).type() == "Split", try items.element(1).type() == "ByteLevel" else {
                let types = try (0..<count).map { try items.element($0).type() }.joined(separator: ", ")
                throw TokenizerError.unsupported(file: file, key: "pre_tokenizer.pretokenizers", value: "[\(types)]",
                                                 supported: Self.supportedPreTokenizers)
            }
            try readSplit(try items.element(0), file: file)
            try readByteLevel(try items.element(1))
        default:
            throw TokenizerError.unsupported(file: file, key: "pre_tokenizer.type", value: type, supported: Self.supportedPreTokenizers)
        }
    }

    private mutating func readSplit(_ node: Node, file: String) throws {
        let pattern = node["pattern"]
        guard !pattern["Regex"].isNull else {
            throw TokenizerError.unsupported(file: file, key: "\(pattern.path)", value: "a String pattern",
                                             supported: "Split with the Regex of Qwen2 or Llama-3")
        }
        let regex = try pattern["Regex"].string()
        guard let split = SplitPattern(regex: regex) else {
            throw TokenizerError.unsupported(file: file, key: "\(pattern.path).Regex", value: regex,
                                             supported: "the Split regexes of Qwen2/Qwen2.5/Qwen3 and Llama-3 (and GPT-2's)")
        }
        let behavior = try node["behavior"].string()
        guard behavior == "Isolated" else {
            throw TokenizerError.unsupported(file: file, key: "\(node.path).behavior", value: behavior, supported: "Split behavior Isolated")
        }
        if try node["invert"].bool(default: false) {
            throw TokenizerError.unsupported(file: file, key: "\(node.path).invert", value: "true", supported: "Split invert false")
        }
        self.split = split
    }

    private mutating func readByteLevel(_ node: Node) throws {
        addPrefixSpace = try node["add_prefix_space"].bool(default: true)
        byteLevelRegex = try node["use_regex"].bool(default: true)
    }

    private func readDecoder(_ node: Node, file: String) throws {
        let type = node.isNull ? "null" : try node.type()
        if type == "ByteLevel" { return }
        if type == "Sequence" {
            let items = node["decoders"]
            let count = try items.array().count
            if count == 1, try items.element(0).type() == "ByteLevel" { return }
        }
        throw TokenizerError.unsupported(file: file, key: "decoder.type", value: type, supported: "the ByteLevel decoder")
    }

    private mutating func readAddedTokens(_ node: Node) throws {
        guard !node.isNull else { return }
        for i in 0..<(try node.array().count) {
            let t = try node.element(i)
            let id = try t["id"].int()
            guard let id32 = Int32(exactly: id), id32 >= 0 else { throw t["id"].invalid("not a valid token id") }
            addedTokens.append(AddedToken(
                id: id32, content: try t["content"].string(),
                singleWord: try t["single_word"].bool(default: false), lstrip: try t["lstrip"].bool(default: false),
                rstrip: try t["rstrip"].bool(default: false), normalized: try t["normalized"].bool(default: true),
                special: try t["special"].bool(default: false)))
        }
    }

    private mutating func readPostProcessor(_ node: Node, file: String) throws {
        guard !node.isNull else { return }
        let type = try node.type()
        switch type {
        case "ByteLevel":
            return  // offsets only
        case "Sequence":
            let items = node["processors"]
            for i in 0..<(try items.array().count) { try readPostProcessor(try items.element(i), file: file) }
        case "TemplateProcessing":
            let single = node["single"]
            let specials = node["special_tokens"]
            var before: [Int32] = [], after: [Int32] = []
            var seenSequence = false
            for i in 0..<(try single.array().count) {
                let item = try single.element(i)
                if !item["Sequence"].isNull {
                    let id = try item["Sequence"]["id"].string()
                    guard id == "A", !seenSequence else { throw item.invalid("a single-sequence template has exactly one Sequence A") }
                    seenSequence = true
                } else {
                    let name = try item["SpecialToken"]["id"].string()
                    let entry = specials[name]
                    let ids = try entry["ids"].array().enumerated().map { k, v -> Int32 in
                        guard let n = v.intValue, let id = Int32(exactly: n) else {
                            throw entry["ids"].invalid("entry \(k) is not a token id")
                        }
                        return id
                    }
                    if seenSequence { after += ids } else { before += ids }
                }
            }
            guard seenSequence else { throw single.invalid("no Sequence A") }
            prefixIDs = before + prefixIDs
            suffixIDs += after
        default:
            throw TokenizerError.unsupported(file: file, key: "\(node.path).type", value: type,
                                             supported: "post-processors null, ByteLevel, TemplateProcessing and Sequence of those")
        }
    }
}
