// The tokenizer interface the rest of bridge uses, and the seam that builds one from file bytes:
// a Hugging Face tokenizer.json (byte-level BPE) or a llama2.c tokenizer .bin (tok512.bin).
// Token ids are Int32, the dtype of token shards.

import IO

public protocol Tokenizer: Sendable {
    /// What the tokenizer was loaded from (a path or a store name), for messages.
    var name: String { get }
    /// One more than the largest token id (ids below it may still be unassigned).
    var vocabularySize: Int { get }
    /// Token ids of `text`; `addSpecialTokens` adds what the tokenizer's post-processor adds
    /// (Llama-3's `<|begin_of_text|>`, llama2.c's BOS).
    func encode(_ text: String, addSpecialTokens: Bool) -> [Int32]
    /// Text of `ids`; ids the tokenizer does not have are dropped (as `tokenizers` does),
    /// invalid UTF-8 across token boundaries becomes U+FFFD.
    func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String
    /// The id of a token given as its vocabulary string (added tokens included).
    func tokenID(_ token: String) -> Int32?
    /// The vocabulary string of an id, or nil when the id is unassigned.
    func token(_ id: Int32) -> String?
    /// Whether decoding with `skipSpecialTokens` drops this id.
    func isSpecial(_ id: Int32) -> Bool
}

extension Tokenizer {
    public func encode(_ text: String) -> [Int32] { encode(text, addSpecialTokens: false) }
    public func decode(_ ids: [Int32]) -> String { decode(ids, skipSpecialTokens: false) }

    /// Encodes UTF-8 bytes, rejecting invalid UTF-8 with an error naming `source` and `line`.
    public func encode(utf8 bytes: some Collection<UInt8>, addSpecialTokens: Bool = false, source: String,
                       line: Int? = nil) throws -> [Int32] {
        encode(try UTF8Text.string(bytes, source: source, line: line), addSpecialTokens: addSpecialTokens)
    }

    /// Whether `id` is an assigned token id.
    public func contains(_ id: Int32) -> Bool { token(id) != nil }
}

/// Builds tokenizers from files or bytes.
public enum TokenizerLoader {
    public enum Format: String, Sendable {
        case huggingFaceJSON = "tokenizer.json"
        case llama2C = "llama2.c"
    }

    /// Loads the tokenizer at `path` (a tokenizer.json or a llama2.c .bin, told apart by content).
    public static func load(path: String) throws -> any Tokenizer {
        let bytes: [UInt8]
        do { bytes = try InputFile.read(path) } catch { throw TokenizerError.unreadable(file: path, reason: error.reason) }
        return try load(bytes: bytes, name: path)
    }

    /// Builds a tokenizer from the bytes of a tokenizer file; `name` (a path, or a store object
    /// and the ref that carries it) appears in every error.
    public static func load(bytes: [UInt8], name: String) throws -> any Tokenizer {
        switch format(of: bytes) {
        case .huggingFaceJSON: return try ByteLevelBPETokenizer(json: bytes, name: name)
        case .llama2C: return try Llama2CTokenizer(bytes: bytes, name: name)
        case nil: throw TokenizerError.unknownFormat(file: name)
        }
    }

    /// A JSON object (first non-blank byte `{`) is a tokenizer.json; a llama2.c file starts with a
    /// small positive int32 (the longest token's byte length).
    public static func format(of bytes: [UInt8]) -> Format? {
        if let first = bytes.first(where: { ![0x20, 0x09, 0x0A, 0x0D, 0xEF, 0xBB, 0xBF].contains($0) }), first == UInt8(ascii: "{") {
            return .huggingFaceJSON
        }
        if bytes.count >= 4 {
            let v = Int32(bitPattern: UInt32(bytes[0]) | UInt32(bytes[1]) << 8 | UInt32(bytes[2]) << 16 | UInt32(bytes[3]) << 24)
            if v > 0 && v < 65536 { return .llama2C }
        }
        return nil
    }
}
