// tok512.bin against llama2.c itself: ids from run.c's encode() (built outside the repo, see
// Fixtures/SOURCE.md) with and without BOS/EOS, and the text run.c prints for them.

import Foundation
import Testing
@testable import Tokenizers

@Suite struct Llama2CTokenizerTests {
    struct Golden: Decodable {
        let text: String
        let ids: [Int32]
        let ids_bos: [Int32]
        let ids_bos_eos: [Int32]
        let decoded_after_bos: String
    }

    static func tokenizer() throws -> Llama2CTokenizer {
        try #require(try TokenizerLoader.load(path: Fixtures.path("tok512/tok512.bin")) as? Llama2CTokenizer)
    }

    @Test func encodeMatchesLlama2C() throws {
        let tok = try Self.tokenizer()
        #expect(tok.vocabularySize == 512)
        let goldens = try Fixtures.lines("tok512/llama2c_encode.jsonl", as: Golden.self)
        #expect(goldens.count == 55)
        for g in goldens {
            #expect(tok.encode(g.text, bos: false, eos: false) == g.ids, "'\(visible(g.text))'")
            #expect(tok.encode(g.text, bos: true, eos: false) == g.ids_bos, "'\(visible(g.text))'")
            #expect(tok.encode(g.text, bos: true, eos: true) == g.ids_bos_eos, "'\(visible(g.text))'")
            #expect(tok.encode(g.text, addSpecialTokens: true) == g.ids_bos)
        }
    }

    @Test func decodeMatchesRunC() throws {
        let tok = try Self.tokenizer()
        for g in try Fixtures.lines("tok512/llama2c_encode.jsonl", as: Golden.self) {
            // run.c prints every token after BOS, dropping the space that follows BOS.
            #expect(tok.decode(g.ids_bos, skipSpecialTokens: true) == g.decoded_after_bos, "'\(visible(g.text))'")
            #expect(tok.decode(g.ids_bos_eos, skipSpecialTokens: true) == g.decoded_after_bos)
        }
        // Byte-fallback pieces are bytes; special pieces are kept unless skipped.
        #expect(tok.decode([1, 2], skipSpecialTokens: false) == "\n<s>\n\n</s>\n")
        #expect(tok.decode([Int32(0xC3) + 3, Int32(0xA9) + 3]) == "é")
        #expect(Llama2CTokenizer.byteValue(Array("<0x0A>".utf8)[...]) == 0x0A)
        #expect(Llama2CTokenizer.byteValue(Array("<s>".utf8)[...]) == nil)
    }

    @Test func truncatedFilesAreRejected() throws {
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("tok512/tok512.bin"))))
        for cut in [1, 3, 8, 100] {
            #expect(throws: TokenizerError.self) { _ = try TokenizerLoader.load(bytes: Array(bytes.dropLast(cut)), name: "cut.bin") }
        }
        let e = #expect(throws: TokenizerError.self) { _ = try TokenizerLoader.load(bytes: Array(bytes.dropLast(3)), name: "cut.bin") }
        #expect(e?.description.contains("cut.bin") == true && e?.description.contains("token 511") == true, "\(String(describing: e))")
    }
}
