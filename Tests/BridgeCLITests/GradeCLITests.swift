// `bridge grade` and `bridge dataset` end to end: JSON lines, the text table, rewards, and bad input
// (malformed JSONL, missing fields, invalid UTF-8) giving exit 1 with the file and line named.

import Foundation
import Testing
import TestSupport
import ShardStore

@Suite struct GradeCLITests {
    let scratch = ScratchDirectory("grade-cli")

    func file(_ name: String, _ lines: [String]) -> String {
        let path = scratch.file(name)
        _ = FileManager.default.createFile(atPath: path, contents: Data((lines.joined(separator: "\n") + "\n").utf8))
        return path
    }

    var responses: [String] {
        [
            #"{"response": "So the total is $\\boxed{1,080}$.", "answer": "1080"}"#,
            #"{"response": "The answer is \\boxed{\\dfrac{1}{2}}", "answer": "0.5"}"#,
            #"{"response": "I think it is 7.", "answer": 8}"#,
            #"{"response": "no idea", "answer": "3"}"#,
        ]
    }

    @Test func jsonOutputHasOneObjectPerLineThenASummary() throws {
        let r = try runBridge(["grade", "--input", file("in.jsonl", responses), "--json"])
        #expect(r.status == 0, "\(r.stderr)")
        let lines = r.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 5)
        let objects = try lines.map { try JSONValue(parsing: $0) }
        #expect(objects[0]["extracted"] == .string("1,080") && objects[0]["correct"] == .bool(true))
        #expect(objects[1]["correct"] == .bool(true) && objects[1]["source"] == .string("boxed"))
        #expect(objects[2]["extracted"] == .string("7") && objects[2]["correct"] == .bool(false))
        #expect(objects[3]["extracted"] == .null && objects[3]["correct"] == .bool(false))
        #expect(objects[0]["line"] == .int(1) && objects[3]["line"] == .int(4))
        #expect(objects[4]["accuracy"]?.doubleValue == 0.5)
        #expect(objects[4]["correct"] == .int(2) && objects[4]["total"] == .int(4))
    }

    @Test func textOutputIsATableAndTheAccuracy() throws {
        let r = try runBridge(["grade", "--input", file("in.jsonl", responses)])
        #expect(r.status == 0)
        #expect(r.stdout.contains("extracted"))
        #expect(r.stdout.contains("1,080"))
        #expect(r.stdout.hasSuffix("accuracy: 0.5000 (2/4)\n"), "\(r.stdout)")
    }

    @Test func rewardsAreConfigurable() throws {
        let r = try runBridge(["grade", "--input", file("in.jsonl", responses), "--json", "--incorrect-reward", "-1", "--format-reward", "0.5"])
        let objects = try r.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(objects.prefix(4).map { $0["reward"]?.doubleValue } == [1.5, 1.5, -1, -1])
        #expect(objects[4]["mean_reward"]?.doubleValue == 0.25)
    }

    @Test func malformedJSONLIsAnErrorNamingFileAndLine() throws {
        let path = file("bad.jsonl", [responses[0], #"{"response": "x", "answer": "#])
        let r = try runBridge(["grade", "--input", path, "--json"])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("error: '\(path)' line 2: malformed JSON"), "\(r.stderr)")
        #expect(r.stdout.isEmpty)
    }

    @Test func missingFieldIsAnErrorNamingTheKey() throws {
        let r = try runBridge(["grade", "--input", file("missing.jsonl", [responses[0], #"{"answer": "3"}"#])])
        #expect(r.status == 1)
        #expect(r.stderr.contains("line 2: missing field 'response'"), "\(r.stderr)")
    }

    @Test func invalidUTF8IsAnError() throws {
        let path = scratch.file("utf8.jsonl")
        _ = FileManager.default.createFile(atPath: path, contents: Data(Array(responses[0].utf8) + [0x0A, 0x7B, 0xC3, 0x28, 0x7D, 0x0A]))
        let r = try runBridge(["grade", "--input", path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("line 2: invalid UTF-8"), "\(r.stderr)")
    }

    @Test func missingInputFileIsAnError() throws {
        let r = try runBridge(["grade", "--input", scratch.file("absent.jsonl")])
        #expect(r.status == 1)
        #expect(r.stderr.hasPrefix("error: cannot read"), "\(r.stderr)")
    }
}

@Suite struct DatasetCLITests {
    let scratch = ScratchDirectory("dataset-cli")

    @Test func synthWritesTheSameBytesEveryTime() throws {
        let a = scratch.file("a.jsonl"), b = scratch.file("b.jsonl")
        let r1 = try runBridge(["dataset", "synth", "--seed", "3", "--level", "2", "--count", "20", "--out", a, "--json"])
        #expect(r1.status == 0, "\(r1.stderr)")
        #expect(try JSONValue(parsing: r1.stdout)["records"] == .int(20))
        _ = try runBridge(["dataset", "synth", "--seed", "3", "--level", "2", "--count", "20", "--out", b])
        #expect(FileManager.default.contents(atPath: a) == FileManager.default.contents(atPath: b))

        let shown = try runBridge(["dataset", "show", a, "--json", "--limit", "2"])
        #expect(shown.status == 0)
        let records = try shown.stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(records.count == 2 && records[0]["source"] == .string("synthetic") && records[0]["level"] == .int(2))
    }

    @Test func badLevelWritesNothing() throws {
        let out = scratch.file("never.jsonl")
        let r = try runBridge(["dataset", "synth", "--level", "9", "--out", out])
        #expect(r.status == 1)
        #expect(r.stderr.contains("synthetic level 9 does not exist"), "\(r.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out))
    }

    @Test func showNamesTheLineOfABadRecord() throws {
        let path = scratch.file("gsm.jsonl")
        let text = "{\"question\": \"q\", \"answer\": \"#### 1\"}\n{\"question\": \"q\"}\n"
        _ = FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
        let r = try runBridge(["dataset", "show", path])
        #expect(r.status == 1)
        #expect(r.stderr.contains("line 2: missing field 'answer'"), "\(r.stderr)")
    }
}
