// Hostile tokenizer files (issue [reliability] 4): refused with an error that names the file and
// the problem, before any large allocation; nothing traps. Their bytes are also fuzz regression
// inputs under Tests/Fuzz/tokenizer-json/regressions and Tests/Fuzz/llama2c-tokenizer/regressions.

import Foundation
import Testing
@testable import Tokenizers

@Suite struct HostileInputTests {
    static let file = "hostile/tokenizer.json"

    /// A byte-level tokenizer.json: the 256 byte tokens, `extra` tokens and `merges`.
    static func tokenizerJSON(extra: [String: Int] = [:], merges: [String] = [], added: [(Int, String)] = []) -> [UInt8] {
        var vocab: [String: Int] = [:]
        for b in 0..<256 { vocab[ByteLevel.tokenString(ofBytes: [UInt8(b)])] = b }
        for (k, v) in extra { vocab[k] = v }
        let json: [String: Any] = [
            "model": ["type": "BPE", "vocab": vocab, "merges": merges],
            "pre_tokenizer": ["type": "ByteLevel", "add_prefix_space": false, "use_regex": true],
            "decoder": ["type": "ByteLevel"],
            "added_tokens": added.map { ["id": $0.0, "content": $0.1, "special": true] },
        ]
        return [UInt8](try! JSONSerialization.data(withJSONObject: json, options: [.sortedKeys]))
    }

    static func error(_ bytes: [UInt8]) -> TokenizerError? {
        do {
            _ = try TokenizerLoader.load(bytes: bytes, name: file)
            return nil
        } catch {
            return error as? TokenizerError
        }
    }

    @Test func theBaseFileLoads() throws {
        let t = try TokenizerLoader.load(bytes: Self.tokenizerJSON(extra: ["ab": 256], merges: ["a b"]), name: Self.file)
        #expect(t.encode("abab") == [256, 256])
    }

    /// A token id near Int32.max would make every per-id table gigabytes long (and id + 1 overflow).
    @Test(arguments: [Int(Int32.max), 2_000_000_000, 256 + ByteLevelBPETokenizer.maxUnusedIDs + 1])
    func absurdTokenIDsAreRefused(_ id: Int) throws {
        for bytes in [Self.tokenizerJSON(extra: ["far": id]), Self.tokenizerJSON(added: [(id, "<|far|>")])] {
            let e = try #require(Self.error(bytes))
            guard case let .invalidValue(file, key, reason) = e else { Issue.record("unexpected \(e)"); continue }
            #expect(file == Self.file)
            #expect(key == "model.vocab" || key == "added_tokens")
            #expect(reason.contains("token id \(id)"))
            #expect(e.description.contains(Self.file))
        }
    }

    @Test func aFewUnusedIDsAreFine() throws {
        let t = try TokenizerLoader.load(bytes: Self.tokenizerJSON(added: [(1000, "<|x|>")]), name: Self.file)
        #expect(t.vocabularySize == 1001)
        #expect(t.token(500) == nil)
    }

    /// A merge whose result is one of its parts: "a" + "" is "a" (an empty token), or a token
    /// listed under two ids. Merging would not make progress; the file is refused.
    @Test func cyclicMergesAreRefused() throws {
        for (extra, merge) in [(["": 300], "a "), (["ab": 97], "a b")] {
            let e = try #require(Self.error(Self.tokenizerJSON(extra: extra, merges: [merge])))
            guard case let .invalidValue(file, key, reason) = e else { Issue.record("unexpected \(e)"); continue }
            #expect(file == Self.file && key == "model.merges")
            #expect(reason.contains("cyclic merge"), "\(reason)")
        }
    }

    /// Merges naming tokens the vocabulary lacks, or making one it lacks, are refused by entry.
    @Test func absurdMergesAreRefused() throws {
        let cases: [([String: Int], [String], String)] = [
            ([:], ["a zzz"], "not in model.vocab"),
            ([:], ["a b"], "makes 'ab', which is not in model.vocab"),
            (["ab": 256], ["a b", "a b c"], "entry 1"),
        ]
        for (extra, merges, expected) in cases {
            let e = try #require(Self.error(Self.tokenizerJSON(extra: extra, merges: merges)))
            #expect(e.description.contains(Self.file) && e.description.contains(expected), "\(e)")
        }
    }

    /// Long chains of merges (each merge builds on the last) still end: every merge shortens the word.
    @Test func longMergeChainsTerminate() throws {
        var extra: [String: Int] = [:], merges: [String] = [], token = "a"
        for i in 0..<200 {
            merges.append("\(token) a")
            token += "a"
            extra[token] = 256 + i
        }
        let t = try TokenizerLoader.load(bytes: Self.tokenizerJSON(extra: extra, merges: merges), name: Self.file)
        for n in [1, 2, 3, 47, 48, 49, 201, 5000] {
            let text = String(repeating: "a", count: n)
            let ids = t.encode(text)
            #expect(ids.count < n || n == 1)
            #expect(t.decode(ids) == text)
        }
    }

    /// llama2.c tokenizer.bin: lengths past the end of the file and negative lengths.
    @Test func llama2cTokenLengthsPastTheEndAreRefused() throws {
        func le32(_ v: Int32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        for length in [Int32.max, 1 << 30, 5, -1] {
            let bytes = le32(8) + le32(0) + le32(length) + Array("abc".utf8)
            #expect {
                _ = try Llama2CTokenizer(bytes: bytes, name: "hostile/tok.bin")
            } throws: { e in
                guard case let .invalidLlama2CFile(file, reason) = e as? TokenizerError else { return false }
                return file == "hostile/tok.bin" && reason.contains("past the end of the file")
            }
        }
    }
}
