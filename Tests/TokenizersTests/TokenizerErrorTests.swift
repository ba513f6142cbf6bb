// Bad tokenizer files get errors naming the file and the key: unsupported model types,
// pre-tokenizers, normalizers and decoders, broken JSON, inconsistent merges, unknown formats.

import Foundation
import Testing
@testable import Tokenizers

@Suite struct TokenizerErrorTests {
    /// The qwen2-style tokenizer.json with one edit applied.
    static func edited(_ edit: (inout [String: Any]) -> Void) throws -> [UInt8] {
        let data = try Data(contentsOf: URL(fileURLWithPath: Fixtures.path("qwen2-style/tokenizer.json")))
        var json = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        edit(&json)
        return [UInt8](try JSONSerialization.data(withJSONObject: json))
    }

    static func loadError(_ bytes: [UInt8]) -> TokenizerError? {
        do {
            _ = try TokenizerLoader.load(bytes: bytes, name: "models/x/tokenizer.json")
            return nil
        } catch {
            return error as? TokenizerError
        }
    }

    @Test func unsupportedComponentsNameTheKey() throws {
        let cases: [(String, (inout [String: Any]) -> Void)] = [
            ("model.type", { j in var m = j["model"] as! [String: Any]; m["type"] = "WordPiece"; j["model"] = m }),
            ("pre_tokenizer.type", { j in j["pre_tokenizer"] = ["type": "Metaspace", "replacement": "▁"] }),
            ("pre_tokenizer", { j in j["pre_tokenizer"] = NSNull() }),
            ("pre_tokenizer.pretokenizers[0].pattern.Regex", { j in
                var p = j["pre_tokenizer"] as! [String: Any]
                var list = p["pretokenizers"] as! [[String: Any]]
                list[0]["pattern"] = ["Regex": "\\s+|\\S+"]
                p["pretokenizers"] = list
                j["pre_tokenizer"] = p
            }),
            ("normalizer.type", { j in j["normalizer"] = ["type": "Lowercase"] }),
            ("decoder.type", { j in j["decoder"] = ["type": "WordPiece", "prefix": "##"] }),
            ("post_processor.type", { j in j["post_processor"] = ["type": "BertProcessing"] }),
            ("model.byte_fallback", { j in var m = j["model"] as! [String: Any]; m["byte_fallback"] = true; j["model"] = m }),
        ]
        for (key, edit) in cases {
            let error = try #require(Self.loadError(try Self.edited(edit)), "\(key) accepted")
            guard case let .unsupported(file, k, _, _) = error else {
                Issue.record("\(key): \(error)")
                continue
            }
            #expect(file == "models/x/tokenizer.json" && k == key)
            #expect(error.description.contains("models/x/tokenizer.json") && error.description.contains("hint:"))
        }
    }

    @Test func brokenFilesAreInvalid() throws {
        #expect(Self.loadError(Array("{\"model\": ".utf8)).map { if case .invalidJSON = $0 { true } else { false } } == true)
        #expect(Self.loadError(try Self.edited { j in j["model"] = ["type": "BPE", "merges": []] })
                == .missingKey(file: "models/x/tokenizer.json", key: "model.vocab"))
        let badMerge = try Self.edited { j in
            var m = j["model"] as! [String: Any]
            m["merges"] = [["a", "no-such-token"]]
            j["model"] = m
        }
        guard case let .invalidValue(_, key, reason) = Self.loadError(badMerge) else {
            Issue.record("inconsistent merges accepted")
            return
        }
        #expect(key == "model.merges" && reason.contains("no-such-token"))
        #expect(Self.loadError([0xFF, 0xFF, 0xFF, 0xFF, 1, 2]) == .unknownFormat(file: "models/x/tokenizer.json"))
        #expect(throws: TokenizerError.unreadable(file: "/no/such/tokenizer.json", reason: "no such file")) {
            _ = try TokenizerLoader.load(path: "/no/such/tokenizer.json")
        }
    }

    @Test func invalidUTF8InputIsAnErrorNamingTheLine() throws {
        let tok = try Fixtures.tokenizer("qwen2-style")
        #expect(throws: TokenizerError.invalidUTF8(source: "in.txt", line: 7, byteOffset: 2)) {
            _ = try tok.encode(utf8: [0x68, 0x69, 0xC3, 0x28], source: "in.txt", line: 7)
        }
        #expect(try tok.encode(utf8: Array("hi".utf8), source: "in.txt") == tok.encode("hi"))
    }
}
