// `bridge stage tokenize|score` as a user runs them: outputs, skipping, and bad input (malformed
// JSONL, missing fields, invalid UTF-8, unsupported tokenizers) that fails cleanly and writes nothing.

import Foundation
import Testing
import TestSupport
import ShardStore

@Suite struct StageCLITests {
    let tok512 = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("TokenizersTests/Fixtures/tok512/tok512.bin").path

    @Test func tokenizeThenScoreByHand() throws {
        let cli = try CLI("stage-cli")
        let data = cli.scratch.file("problems.jsonl")
        try Data("""
        {"question": "Tom has 3 apples and buys 4 more. How many apples?", "answer": "3+4=<<3+4=7>>7\\n#### 7"}
        {"question": "What is 1,000 + 234?", "answer": "1000+234=1234\\n#### 1,234"}

        """.utf8).write(to: URL(fileURLWithPath: data))
        let first = try cli.json(["stage", "tokenize", "--run", "r", "--tokenizer", tok512, "--data", data, "--kind", "rl"])
        #expect(first["skipped"] == false && first["metrics"]?["examples"] == 2)
        let again = try cli.json(["stage", "tokenize", "--run", "r", "--tokenizer", tok512, "--data", data, "--kind", "rl"])
        #expect(again["skipped"] == true && again["outputs"] == first["outputs"])

        let responses = cli.scratch.file("responses.jsonl")
        try Data("""
        {"prompt_index": 0, "response": "3 + 4 = 7. \\\\boxed{7}"}
        {"prompt_index": 0, "response": "\\\\boxed{8}"}
        {"prompt_index": 1, "response": "\\\\boxed{1234}"}
        {"prompt_index": 1, "response": "\\\\boxed{1,234}"}

        """.utf8).write(to: URL(fileURLWithPath: responses))
        let score = try cli.json(["stage", "score", "--run", "r", "--prompts", "runs/r/data/rl", "--responses", responses,
                                  "--tokenizer", tok512, "--group-size", "2"])
        #expect(score["metrics"]?["accuracy"] == .double(0.75))
        #expect(score["metrics"]?["groups_mixed"] == 1 && score["metrics"]?["groups_all_correct"] == 1)
        let journal = try Store(at: cli.store).readJournal(run: "r")
        #expect(journal.map { $0["stage"]?.stringValue } == ["tokenize", "score"])
    }

    @Test func aModelRefCarriesItsTokenizer() throws {
        let cli = try CLI("stage-model-tok")
        let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("CheckpointTests/Fixtures/stories260k")
        try cli.run(["import", "llama2c", fixtures.appendingPathComponent("stories260K.bin").path,
                     "--tokenizer", fixtures.appendingPathComponent("tok512.bin").path, "--name", "stories"])
        let text = cli.scratch.file("text.txt")
        try Data("Once upon a time, 3 + 4 = 7.\n".utf8).write(to: URL(fileURLWithPath: text))
        let viaRef = try cli.run(["tokenizer", "encode", "stories", "--input", text])
        let viaFile = try runBridge(["tokenizer", "encode", tok512, "--input", text])
        #expect(!viaRef.stdout.isEmpty && viaRef.stdout == viaFile.stdout)
        let a = try cli.json(["stage", "tokenize", "--run", "a", "--tokenizer", "stories", "--data", "synthetic", "--kind", "rl", "--count", "4"])
        let b = try cli.json(["stage", "tokenize", "--run", "b", "--tokenizer", tok512, "--data", "synthetic", "--kind", "rl", "--count", "4"])
        #expect(a["outputs"] == b["outputs"])  // the same tokenizer bytes, so the same shard
        try expectCleanFailure(cli, ["stage", "tokenize", "--run", "c", "--tokenizer", "nosuchmodel", "--data", "synthetic", "--kind", "rl"],
                               mentioning: ["nosuchmodel"])
    }

    func expectCleanFailure(_ cli: CLI, _ args: [String], mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = snapshot(cli.store)
        let r = try cli.run(args, expect: 1, sourceLocation: sourceLocation)
        for w in words { #expect(r.stderr.contains(w), "stderr '\(r.stderr)' lacks '\(w)'", sourceLocation: sourceLocation) }
        #expect(snapshot(cli.store) == before, "the store changed", sourceLocation: sourceLocation)
    }

    @Test func badInputIsRejectedAndWritesNothing() throws {
        let cli = try CLI("stage-bad")
        let malformed = cli.scratch.file("malformed.jsonl")
        try Data("{\"question\": \"a\", \"answer\": \"#### 1\"}\n{\"question\": \"b\", \"answer\": \n".utf8).write(to: URL(fileURLWithPath: malformed))
        try expectCleanFailure(cli, ["stage", "tokenize", "--run", "r", "--tokenizer", tok512, "--data", malformed, "--kind", "rl"],
                               mentioning: ["malformed.jsonl", "line 2"])
        let missing = cli.scratch.file("missing.jsonl")
        try Data("{\"question\": \"a\", \"answer\": \"#### 1\"}\n{\"question\": \"b\"}\n".utf8).write(to: URL(fileURLWithPath: missing))
        try expectCleanFailure(cli, ["stage", "tokenize", "--run", "r", "--tokenizer", tok512, "--data", missing, "--kind", "rl"],
                               mentioning: ["missing.jsonl", "line 2", "answer"])
        let invalid = cli.scratch.file("invalid.jsonl")
        try Data([UInt8]("{\"question\": \"a".utf8) + [0xFF, 0xFE] + [UInt8]("\", \"answer\": \"#### 1\"}\n".utf8)).write(to: URL(fileURLWithPath: invalid))
        try expectCleanFailure(cli, ["stage", "tokenize", "--run", "r", "--tokenizer", tok512, "--data", invalid, "--kind", "rl"],
                               mentioning: ["invalid.jsonl", "UTF-8"])
        let good = cli.scratch.file("good.jsonl")
        try Data("{\"question\": \"a\", \"answer\": \"#### 1\"}\n".utf8).write(to: URL(fileURLWithPath: good))
        let unigram = cli.scratch.file("tokenizer.json")
        try Data("{\"model\": {\"type\": \"Unigram\", \"vocab\": []}, \"added_tokens\": []}".utf8).write(to: URL(fileURLWithPath: unigram))
        try expectCleanFailure(cli, ["stage", "tokenize", "--run", "r", "--tokenizer", unigram, "--data", good, "--kind", "rl"],
                               mentioning: ["tokenizer.json", "Unigram"])
        try expectCleanFailure(cli, ["stage", "tokenize", "--run", "../r", "--tokenizer", tok512, "--data", good, "--kind", "rl"],
                               mentioning: ["invalid run name"])
        try expectCleanFailure(cli, ["stage", "tokenize", "--run", "r", "--tokenizer", tok512, "--data", good, "--kind", "dpo"],
                               mentioning: ["dpo"])
    }
}
