// The pieces under the tokenizers, each against its own golden or reference: the hand-matched
// Split regexes against `tokenizers`' regex engine, NFC against `tokenizers`' NFC, the fast BPE
// merge loops against the naive one, UTF-8 validation against the standard library's decoder,
// the JSON reader against JSONSerialization; and encoding from many threads at once.

import Foundation
import IO
import Testing
@testable import Tokenizers
import Tensors

@Suite struct PiecesTests {
    struct PretokenizeGolden: Decodable {
        let pattern: String
        let text: String
        let piece_bytes: [Int]
    }

    struct NFCGolden: Decodable {
        let text: String
        let nfc: String?
    }

    @Test func splitPatternsMatchTheRegexEngine() throws {
        let goldens = try Fixtures.lines("pretokenize.jsonl", as: PretokenizeGolden.self)
        #expect(goldens.count > 1000)
        var failures = 0
        for g in goldens {
            let pattern: SplitPattern = g.pattern == "qwen2" ? .qwen2 : g.pattern == "llama3" ? .llama3 : .gpt2
            var lengths: [Int] = []
            var text = g.text
            text.withUTF8 { p in pattern.forEachPiece(p, 0, p.count) { a, b in lengths.append(b - a) } }
            if lengths != g.piece_bytes {
                failures += 1
                if failures <= 5 { Issue.record("\(g.pattern) '\(visible(g.text))': \(lengths) != \(g.piece_bytes)") }
            }
        }
        #expect(failures == 0)
    }

    @Test func splitPatternsAreRecognizedOnlyVerbatim() {
        #expect(SplitPattern(regex: SplitPattern.qwen2Regex) == .qwen2)
        #expect(SplitPattern(regex: SplitPattern.llama3Regex) == .llama3)
        #expect(SplitPattern(regex: SplitPattern.gpt2Regex) == .gpt2)
        #expect(SplitPattern(regex: SplitPattern.qwen2Regex + "|x") == nil)
    }

    @Test func nfcMatchesTokenizers() throws {
        let goldens = try Fixtures.lines("nfc.jsonl", as: NFCGolden.self)
        #expect(goldens.count > 5000)
        var failures = 0
        for g in goldens where NFC.string(g.text) != (g.nfc ?? g.text) {
            failures += 1
            if failures <= 5 { Issue.record("'\(visible(g.text))' → '\(visible(NFC.string(g.text)))', expected '\(visible(g.nfc ?? g.text))'") }
        }
        #expect(failures == 0)
        // The quick check only lets through text NFC leaves alone.
        for g in goldens where g.nfc != nil {
            var t = g.text
            #expect(t.withUTF8 { NFC.mayChange($0, 0, $0.count) })
        }
    }

    @Test func fastMergeLoopsAgreeWithTheNaiveOne() throws {
        let tokenizer = try #require(try Fixtures.tokenizer("qwen2-style") as? ByteLevelBPETokenizer)
        let model = tokenizer.model
        var generator = SplitMix(seed: 42)
        let alphabet = Array("the quick brown fox 1234 ++ \\frac{}{}日本語😀 aaaa".utf8)
        for length in [0, 1, 2, 3, 5, 8, 13, 47, 48, 49, 64, 200, 1000] {
            for _ in 0..<20 {
                let word = (0..<length).map { _ in alphabet[Int(generator.next() % UInt64(alphabet.count))] }
                var naive: [UInt32] = [], short: [UInt32] = [], long: [UInt32] = []
                word.withUnsafeBufferPointer { model.symbols(of: $0, into: &naive) }
                short = naive
                long = naive
                model.mergeNaive(&naive)
                model.mergeShort(&short)
                model.mergeLong(&long)
                #expect(short == naive, "length \(length)")
                #expect(long == naive, "length \(length)")
            }
        }
    }

    @Test func utf8ValidationFindsTheFirstBadByte() {
        let cases: [([UInt8], Int?)] = [
            (Array("plain ascii".utf8), nil),
            (Array("é 日本 😀".utf8), nil),
            ([0x61, 0x80], 1),                    // lone continuation byte
            ([0x61, 0xC3], 1),                    // truncated 2-byte sequence
            ([0xC0, 0xAF], 0),                    // overlong
            ([0xE0, 0x80, 0xAF], 0),              // overlong 3-byte
            ([0xED, 0xA0, 0x80], 0),              // surrogate U+D800
            ([0xF4, 0x90, 0x80, 0x80], 0),        // above U+10FFFF
            ([0x41, 0xF0, 0x9F, 0x98], 1),        // truncated 4-byte sequence
            ([0xFF], 0),
        ]
        for (bytes, expected) in cases {
            #expect(bytes.withUnsafeBufferPointer { UTF8Text.firstInvalidOffset($0) } == expected, "\(bytes)")
            // Agrees with the standard library's validating decoder on validity.
            #expect((String(validating: bytes, as: UTF8.self) == nil) == (expected != nil))
        }
        #expect(throws: TokenizerError.invalidUTF8(source: "in.txt", line: 3, byteOffset: 1)) {
            _ = try UTF8Text.string([0x61, 0x80], source: "in.txt", line: 3)
        }
    }

    @Test func characterClassesCoverAstralScalars() {
        #expect(CharacterClasses.of(0x20000).contains(.letter))       // CJK Extension B
        #expect(CharacterClasses.of(0x1D7CE).contains(.number))       // MATHEMATICAL BOLD DIGIT ZERO
        #expect(CharacterClasses.of(0xE0041).isEmpty)                 // TAG LATIN CAPITAL LETTER A
        #expect(CharacterClasses.of(0x3000).contains(.whitespace))
        #expect(!CharacterClasses.of(0x200B).contains(.whitespace))   // zero width space is not \s
    }
}

/// A small deterministic generator for the randomized checks.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

@Suite struct JSONReaderTests {
    /// The project's JSON reader (IO's JSONValue; its strictness is tested in ShardStoreTests)
    /// reads the tokenizer fixtures as JSONSerialization does.
    @Test(arguments: Fixtures.byteLevelStyles)
    func readsTokenizerFilesLikeJSONSerialization(style: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("\(style)/tokenizer.json")))
        let reference = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let parsed = try JSONValue(parsing: [UInt8](data))
        let vocab = try #require((reference["model"] as? [String: Any])?["vocab"] as? [String: Any])
        let entries = try #require(parsed["model"]?["vocab"]?.objectValue, "no model.vocab")
        #expect(entries.count == vocab.count)
        for (key, value) in entries {
            #expect((vocab[key] as? NSNumber)?.intValue == value.intValue, "\(key)")
        }
    }

    /// Invalid JSON in a tokenizer.json is an invalidJSON error naming the line and column.
    @Test func duplicateKeysAreInvalidJSON() throws {
        do {
            _ = try TokenizerLoader.load(bytes: Array("{\"model\": {},\n \"model\": {}}".utf8), name: "t.json")
            Issue.record("loaded a tokenizer.json with a duplicate key")
        } catch let TokenizerError.invalidJSON(file, reason) {
            #expect(file == "t.json")
            #expect(reason == "line 2, column 2: duplicate key 'model'")
        }
    }
}

@Suite struct ConcurrencyTests {
    /// Encoding from many threads at once (each takes its own word cache) gives the golden ids.
    @Test func concurrentEncodesAgree() throws {
        let tokenizer = try Fixtures.tokenizer("qwen2-style")
        let goldens = try Fixtures.lines("qwen2-style/encode.jsonl", as: EncodeGolden.self)
        let mismatches = Locked(0)
        DispatchQueue.concurrentPerform(iterations: 8) { worker in
            for g in goldens.shuffled(using: &SplitMixBox(seed: UInt64(worker)).rng) where tokenizer.encode(g.text) != g.ids {
                mismatches.withLock { $0 += 1 }
            }
        }
        #expect(mismatches.withLock { $0 } == 0)
    }
}

private final class SplitMixBox {
    var rng: SplitMix
    init(seed: UInt64) { rng = SplitMix(seed: seed) }
}
