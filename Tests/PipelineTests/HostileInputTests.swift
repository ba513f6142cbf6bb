// Hostile pipeline files (issue [reliability] 4): YAML whose anchors expand exponentially
// ("billion laughs"), nesting deep enough to exhaust the stack, base-60 numbers that overflow
// inside Yams. Each is refused, fast, with an error naming the file and the line.

import Foundation
import Testing
@testable import Pipeline

@Suite struct HostilePipelineInputTests {
    static let valid = """
        seed: 0
        model: {llama2c: m.bin, tokenizer: t.bin}
        data:
          sft: {source: synthetic, count: 8}
          rl: {source: synthetic, count: 8}
        method: bridge
        """

    func refusal(_ yaml: String, file: String = "hostile.yaml", overrides: [String] = []) -> String? {
        do {
            _ = try PipelineConfig.parse(yaml: yaml, file: file, overrides: overrides)
            return nil
        } catch {
            return "\(error)"
        }
    }

    /// Ten levels of ten aliases each: 10^10 nodes from under a kilobyte.
    static func billionLaughs(levels: Int = 10) -> String {
        var text = "a0: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
        for i in 1..<levels {
            text += "a\(i): &a\(i) [" + Array(repeating: "*a\(i - 1)", count: 10).joined(separator: ", ") + "]\n"
        }
        return text + valid
    }

    @Test func billionLaughsIsRefusedQuickly() throws {
        let yaml = Self.billionLaughs()
        #expect(yaml.utf8.count < 1024)
        let clock = ContinuousClock(), start = clock.now
        let message = try #require(refusal(yaml))
        #expect(clock.now - start < .seconds(5))
        #expect(message.hasPrefix("hostile.yaml:"), "\(message)")
        #expect(message.contains("aliases expand this file to more than 100000 nodes"), "\(message)")
    }

    /// Keys as aliases of a large anchored mapping: Yams would hash each key's whole tree.
    @Test func aliasesAsMappingKeysAreBounded() throws {
        var yaml = "base: &k {" + (0..<300).map { "k\($0): v" }.joined(separator: ", ") + "}\n"
        yaml += "keys: {" + (0..<400).map { _ in "? *k : x" }.joined(separator: ", ") + "}\n"
        let message = try #require(refusal(yaml + Self.valid))
        #expect(message.contains("aliases expand"), "\(message)")
    }

    /// The anchors real pipeline files use (a list of paths shared by two data sets) still work.
    @Test func modestAnchorsAreAccepted() throws {
        let yaml = Self.valid.replacingOccurrences(of: "  sft: {source: synthetic, count: 8}",
                                                   with: "  sft: {file: &files [a.jsonl, b.jsonl], format: math}\n  extra: *files")
        // 'data.extra' is not a key, which shows the file got past the YAML bounds to validation.
        #expect(refusal(yaml)?.contains("'data.extra': unknown key") == true)
        let ok = Self.valid.replacingOccurrences(of: "  rl: {source: synthetic, count: 8}", with: "  rl: &rl {source: synthetic, count: 8}\n  eval: [*rl, *rl]")
        #expect(refusal(ok) == nil, "\(refusal(ok) ?? "")")
    }

    @Test func deepNestingIsRefused() throws {
        for yaml in [String(repeating: "[", count: 100_000), String(repeating: "- ", count: 5_000) + "x",
                     String(repeating: "{a: ", count: 70) + "1" + String(repeating: "}", count: 70)] {
            let message = try #require(refusal(yaml))
            #expect(message.hasPrefix("hostile.yaml:"), "\(message)")
            #expect(message.contains("nest more than 64 deep") || message.contains("not valid YAML"), "\(message)")
            #expect(message.split(separator: "\n").allSatisfy { $0.count < 300 }, "\(message.prefix(400))")
        }
    }

    /// Yams reads "1:2:3" as a base-60 number and overflows (a trap) on long ones; pipeline files
    /// take such scalars as strings, so the value is refused as "expected an integer".
    @Test func baseSixtyNumbersDoNotTrap() throws {
        for value in ["1:2:3:4:5:6:7:8:9:10:11:12", "99999999999999999:9", "-1:0:0:0:0:0:0:0:0:0:0:0:0"] {
            let message = try #require(refusal(Self.valid + "\nsteps: \(value)"))
            #expect(message.hasPrefix("hostile.yaml:") && message.contains("'steps': expected an integer"), "\(message)")
            let set = try #require(refusal(Self.valid, overrides: ["steps=\(value)"]))
            #expect(set.contains("'steps': expected an integer"), "\(set)")
        }
    }

    @Test func overridesAreBoundedToo() throws {
        // One flow value: [&b0 [x, ...], &b1 [*b0, ...], ...], each level ten of the previous.
        var levels = ["&b0 [" + Array(repeating: "x", count: 10).joined(separator: ", ") + "]"]
        for i in 1..<7 { levels.append("&b\(i) [" + Array(repeating: "*b\(i - 1)", count: 10).joined(separator: ", ") + "]") }
        let message = try #require(refusal(Self.valid, overrides: ["bridge.lora.target_modules=[" + levels.joined(separator: ", ") + "]"]))
        #expect(message.contains("--set bridge.lora.target_modules") && message.contains("aliases expand"), "\(message)")
    }
}
