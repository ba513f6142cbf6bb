// Fixture access for the tokenizer tests: files under Tests/TokenizersTests/Fixtures (made by
// tools/gen_tokenizer_goldens.py and llama2.c; see Fixtures/SOURCE.md), read as JSON Lines.

import Foundation
import Tokenizers

enum Fixtures {
    static let directory = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

    static func lines<T: Decodable>(_ relative: String, as type: T.Type) throws -> [T] {
        let text = try String(contentsOfFile: path(relative), encoding: .utf8)
        let decoder = JSONDecoder()
        return try text.split(separator: "\n").map { try decoder.decode(T.self, from: Data($0.utf8)) }
    }

    static func tokenizer(_ name: String) throws -> any Tokenizer {
        try TokenizerLoader.load(path: path("\(name)/tokenizer.json"))
    }

    /// The byte-level tokenizers trained with `tokenizers` in each family's style.
    static let byteLevelStyles = ["qwen2-style", "llama3-style", "gpt2-flags"]
}

/// One line of <style>/encode.jsonl: absent fields default as the generator documents.
struct EncodeGolden: Decodable {
    let text: String
    let ids: [Int32]
    let ids_with_special_tokens: [Int32]?
    let decoded: String?
    let decoded_skip: String?

    var idsWithSpecialTokens: [Int32] { ids_with_special_tokens ?? ids }
    var decodedText: String { decoded ?? text }
    var decodedSkipText: String { decoded_skip ?? decodedText }
}

/// One line of <style>/decode.jsonl.
struct DecodeGolden: Decodable {
    let ids: [Int32]
    let decoded: String
    let decoded_skip: String
}

/// Describes a string with its scalars escaped, for failure messages.
func visible(_ s: String) -> String {
    s.unicodeScalars.map { $0.isASCII && $0.value >= 0x20 && $0.value < 0x7F ? String($0) : "\\u{\(String($0.value, radix: 16))}" }.joined()
}
