// Parity with the Hugging Face `tokenizers` library: every golden line of the three trained
// byte-level tokenizers (Qwen2 style, Llama-3 style, GPT-2 style with added-token flags) encodes
// to the same ids and decodes to the same text.

import Foundation
import Testing
@testable import Tokenizers

@Suite struct ByteLevelBPEGoldenTests {
    @Test(arguments: Fixtures.byteLevelStyles)
    func encodeMatchesTokenizers(style: String) throws {
        let tokenizer = try Fixtures.tokenizer(style)
        let goldens = try Fixtures.lines("\(style)/encode.jsonl", as: EncodeGolden.self)
        #expect(goldens.count > 300)
        var mismatches = 0
        for (n, g) in goldens.enumerated() {
            let ids = tokenizer.encode(g.text, addSpecialTokens: false)
            if ids != g.ids {
                mismatches += 1
                if mismatches <= 5 {
                    Issue.record("\(style) line \(n + 1) '\(visible(g.text))': got \(ids), expected \(g.ids)")
                }
            }
            #expect(tokenizer.encode(g.text, addSpecialTokens: true) == g.idsWithSpecialTokens, "\(style) line \(n + 1)")
        }
        #expect(mismatches == 0, "\(mismatches) of \(goldens.count) lines differ")
    }

    @Test(arguments: Fixtures.byteLevelStyles)
    func decodeMatchesTokenizers(style: String) throws {
        let tokenizer = try Fixtures.tokenizer(style)
        for (n, g) in try Fixtures.lines("\(style)/encode.jsonl", as: EncodeGolden.self).enumerated() {
            #expect(tokenizer.decode(g.ids, skipSpecialTokens: false) == g.decodedText, "\(style) line \(n + 1)")
            #expect(tokenizer.decode(g.ids, skipSpecialTokens: true) == g.decodedSkipText, "\(style) line \(n + 1)")
        }
        // Random id lists and slices that cut UTF-8 sequences (U+FFFD where tokenizers puts it).
        let cases = try Fixtures.lines("\(style)/decode.jsonl", as: DecodeGolden.self)
        #expect(cases.count == 80)
        for (n, g) in cases.enumerated() {
            #expect(tokenizer.decode(g.ids, skipSpecialTokens: false) == g.decoded, "\(style) decode case \(n + 1)")
            #expect(tokenizer.decode(g.ids, skipSpecialTokens: true) == g.decoded_skip, "\(style) decode case \(n + 1)")
        }
    }

    /// GSM8K and MATH problems and solutions come back unchanged from encode then decode
    /// (in the Qwen2 and Llama-3 styles; GPT-2's add_prefix_space adds a leading space by design).
    @Test(arguments: ["qwen2-style", "llama3-style"])
    func mathProblemsRoundTrip(style: String) throws {
        let tokenizer = try Fixtures.tokenizer(style)
        let goldens = try Fixtures.lines("\(style)/encode.jsonl", as: EncodeGolden.self)
        let problems = goldens.filter { $0.text.contains("####") || $0.text.contains("\\boxed") || $0.text.contains("$") }
        #expect(problems.count >= 80)
        for g in problems {
            let back = tokenizer.decode(tokenizer.encode(g.text), skipSpecialTokens: false)
            #expect(back == g.text, "'\(visible(String(g.text.prefix(60))))'")
        }
    }

    @Test func specialTokensAreSkippedOnlyWhenSpecial() throws {
        let qwen = try Fixtures.tokenizer("qwen2-style")
        let text = "<|im_start|>user\n<tool_call>x</tool_call><|im_end|>"
        let ids = qwen.encode(text)
        let imStart = try #require(qwen.tokenID("<|im_start|>"))
        let toolCall = try #require(qwen.tokenID("<tool_call>"))
        #expect(ids.first == imStart && ids.contains(toolCall))
        #expect(qwen.isSpecial(imStart) && !qwen.isSpecial(toolCall))
        #expect(qwen.decode(ids, skipSpecialTokens: true) == "user\n<tool_call>x</tool_call>")
        #expect(qwen.decode(ids) == text)
    }

    @Test func llama3AddsBeginOfTextAndUsesWholeWordsFromTheVocabulary() throws {
        let llama = try #require(try Fixtures.tokenizer("llama3-style") as? ByteLevelBPETokenizer)
        let bos = try #require(llama.tokenID("<|begin_of_text|>"))
        #expect(llama.encode("hi", addSpecialTokens: true).first == bos)
        #expect(llama.model.ignoreMerges)
        // Every vocabulary entry that is a whole pre-tokenized word encodes to itself.
        for word in [" the", " number", "ing"] {
            let id = try #require(llama.tokenID(ByteLevel.tokenString(ofBytes: Array(word.utf8))))
            #expect(llama.encode(word) == [id])
        }
    }

    @Test func unknownIDsAreDroppedWhenDecoding() throws {
        let qwen = try Fixtures.tokenizer("qwen2-style")
        let ids = qwen.encode("hello")
        #expect(qwen.decode([-1] + ids + [Int32(qwen.vocabularySize), Int32.max]) == "hello")
        #expect(!qwen.contains(Int32(qwen.vocabularySize)) && qwen.contains(ids[0]))
    }
}
