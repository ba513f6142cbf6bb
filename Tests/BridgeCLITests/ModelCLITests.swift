// The model commands end to end: import llama2c and hf, generate (greedy ids as llama2.c's
// run.c), forward, train sft, export hf, and bad input that exits 1 with a message.

import Foundation
import Testing
import TestSupport
import Checkpoint
import ShardStore

let fixtureRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().path

@Suite struct ModelCLITests {
    @Test func stories260kImportGenerateForward() throws {
        let cli = try CLI("model-cli")
        let dir = fixtureRoot + "/CheckpointTests/Fixtures/stories260k"
        try cli.run(["import", "llama2c", dir + "/stories260K.bin", "--tokenizer", dir + "/tok512.bin", "--name", "stories"])
        let out = try cli.json(["generate", "stories", "--prompt-ids", "1", "--max-tokens", "200"])
        let expected = try fixtureJSON(dir + "/greedy_ids.json")["ids"] as! [Int]
        let ids = (out["ids"]?.arrayValue ?? []).compactMap { $0.intValue }
        #expect(ids == expected)
        // --prompt "" is BOS alone through the model's own tokenizer, and the text comes back decoded
        let text = try cli.json(["generate", "stories", "--prompt", "", "--max-tokens", "200"])
        #expect((text["ids"]?.arrayValue ?? []).compactMap { $0.intValue } == expected)
        #expect(text["text"]?.stringValue?.contains("Once upon a time") == true)
        let logits = cli.scratch.file("logits.safetensors")
        try cli.run(["forward", "stories", "--prompt-ids", "1,403,407", "--out", logits])
        let file = try SafetensorsFile(path: logits)
        #expect(try file.entry("logits").shape == [3, 512])
        // bad input: exit 1 with a message naming the problem
        let oov = try cli.run(["generate", "stories", "--prompt-ids", "1,512"], expect: 1)
        #expect(oov.stderr.hasPrefix("error: ") && oov.stderr.contains("512"))
        let long = try cli.run(["generate", "stories", "--prompt-ids", "1", "--max-tokens", "600"], expect: 1)
        #expect(long.stderr.contains("context length 512"))
        try cli.run(["generate", "stories", "--prompt-ids", "1,x"], expect: 1)
        try cli.run(["generate", "nope", "--prompt-ids", "1"], expect: 1)
        try cli.run(["generate", "stories", "--prompt-ids", "1", "--prompt", "x"], expect: 1)
    }

    @Test func evalAnswersLikeGenerateAndGradesLikeGrade() throws {
        let cli = try CLI("model-cli")
        let dir = fixtureRoot + "/CheckpointTests/Fixtures/stories260k"
        try cli.run(["import", "llama2c", dir + "/stories260K.bin", "--tokenizer", dir + "/tok512.bin", "--name", "stories"])
        let out = cli.scratch.file("eval.jsonl")
        let summary = try cli.json(["eval", "stories", "--data", "synthetic", "--level", "2", "--count", "11", "--batch", "4",
                                    "--max-tokens", "24", "--out", out])
        #expect(summary["total"]?.intValue == 11)
        let lines = try String(contentsOfFile: out, encoding: .utf8).split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(lines.count == 11)
        // batched, ragged prompts answer as `generate --prompt` answers each problem alone
        let problems = try runBridge(["dataset", "synth", "--level", "2", "--count", "11", "--split", "test"]).stdout
            .split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        for k in [0, 5, 10] {
            let prompt = problems[k]["prompt"]!.stringValue! + "\nPlease reason step by step, and put your final answer within \\boxed{}.\n"
            let alone = try cli.json(["generate", "stories", "--prompt", prompt, "--max-tokens", "24"])
            #expect(lines[k]["response"]?.stringValue == alone["text"]?.stringValue, "problem \(k)")
            #expect(lines[k]["id"] == problems[k]["id"])
        }
        // its grades are `bridge grade`'s over the same responses
        let graded = cli.scratch.file("graded.jsonl")
        try Data(lines.map { JSONValue.object(["response": $0["response"]!, "answer": $0["answer"]!]).canonical + "\n" }.joined().utf8)
            .write(to: URL(fileURLWithPath: graded))
        let grade = try runBridge(["grade", "--input", graded, "--json"]).stdout.split(separator: "\n").map { try JSONValue(parsing: String($0)) }
        #expect(grade.dropLast().map { $0["correct"] } == lines.map { $0["correct"] })
        #expect(grade.last?["correct"]?.intValue == summary["correct"]?.intValue)
        // bad input: exit 1, nothing evaluated
        let missing = try cli.run(["eval", "stories", "--data", cli.scratch.file("none.jsonl")], expect: 1)
        #expect(missing.stderr.contains("none.jsonl"))
        let long = try cli.run(["eval", "stories", "--data", "synthetic", "--max-tokens", "600"], expect: 1)
        #expect(long.stderr.contains("context length 512"))
        try cli.run(["eval", "nope", "--data", "synthetic"], expect: 1)
    }

    @Test func importTrainExport() throws {
        let cli = try CLI("model-cli")
        let hf = fixtureRoot + "/LanguageModelTests/Fixtures/qwen2"
        try cli.run(["import", "hf", hf, "--name", "base"])
        let data = cli.scratch.file("data.jsonl")
        try Data("{\"ids\": [1, 2, 3, 4, 5, 6]}\n{\"prompt_ids\": [7, 8], \"completion_ids\": [9, 10, 11]}\n\n".utf8)
            .write(to: URL(fileURLWithPath: data))
        let result = try cli.json(["train", "sft", "base", "--data", data, "--steps", "6", "--batch", "2", "--lr", "0.01",
                                   "--seed", "1", "--name", "tuned"])
        let lossValues = result["losses"]?.arrayValue ?? []
        let losses = lossValues.compactMap { $0.doubleValue }
        #expect(losses.count == 6 && losses.last! < losses.first!)
        // the same command again gives the same weights (same id)
        let again = try cli.json(["train", "sft", "base", "--data", data, "--steps", "6", "--batch", "2", "--lr", "0.01",
                                  "--seed", "1", "--name", "tuned2"])
        #expect(again["id"] == result["id"])
        let out = cli.scratch.file("export")
        try cli.run(["export", "hf", "tuned", out])
        #expect(FileManager.default.fileExists(atPath: out + "/model.safetensors"))
        #expect(FileManager.default.fileExists(atPath: out + "/config.json"))
        try cli.run(["import", "hf", out, "--name", "reimported"])
        let diff = try cli.json(["ckpt", "diff", "tuned", "reimported"])
        #expect(diff["shared_bytes"]?.intValue == diff["bytes_a"]?.intValue)
        // with a small --max-shard-size: shards + index, the same model read back
        let sharded = cli.scratch.file("export-sharded")
        try cli.run(["export", "hf", "tuned", sharded, "--max-shard-size", "30KB"])
        let files = try FileManager.default.contentsOfDirectory(atPath: sharded)
        #expect(files.contains("model.safetensors.index.json") && !files.contains("model.safetensors"))
        #expect(files.filter { $0.hasPrefix("model-0000") }.count >= 2)
        try cli.run(["import", "hf", sharded, "--name", "reimported-sharded"])
        let shardedDiff = try cli.json(["ckpt", "diff", "tuned", "reimported-sharded"])
        #expect(shardedDiff["shared_bytes"]?.intValue == shardedDiff["bytes_a"]?.intValue)
        let badSize = try cli.run(["export", "hf", "tuned", cli.scratch.file("z"), "--max-shard-size", "12XB"], expect: 1)
        #expect(badSize.stderr.contains("--max-shard-size") && !FileManager.default.fileExists(atPath: cli.scratch.file("z")))

        let bad = cli.scratch.file("bad.jsonl")
        try Data("{\"ids\": [1, 2]}\n{\"ids\": [1, 2], \"extra\": 3}\n".utf8).write(to: URL(fileURLWithPath: bad))
        let r = try cli.run(["train", "sft", "base", "--data", bad, "--steps", "1", "--batch", "1", "--lr", "0.01", "--name", "x"], expect: 1)
        #expect(r.stderr.contains("bad.jsonl:2"))
        let missing = try cli.run(["import", "hf", cli.scratch.file("nothing"), "--name", "y"], expect: 1)
        #expect(missing.stderr.contains("config.json"))
    }
}
