// `bridge run` with bad input exits 1 before any work and writes nothing (DESIGN.md §4): an
// unknown method or key, a value of the wrong type, a model ref or data path that does not
// exist, another config under an existing run name, `--set` of a key that does not exist. Each
// error names the file and line or the key. "Nothing written" is checked by listing every file
// of the store (path, size, modification time) before and after.

import Foundation
import Testing
import TestSupport
import ShardStore

private let quickstart = fixtureRoot + "/../pipelines/quickstart.yaml"
private let tiny = [
    "model={hf: \(fixtureRoot)/../pipelines/models/arith-base}",
    "data.sft={source: synthetic, level: 1, count: 8}", "data.rl={source: synthetic, level: 1, count: 8}", "data.eval=[]",
    "rl.prompts_per_step=2", "rl.num_generations=2", "rl.max_completion_length=4", "train.sft_batch_size=2", "steps=1",
].flatMap { ["--set", $0] }

/// Every file under `root` with its size and modification time.
private func listing(_ root: String) throws -> [String] {
    let fm = FileManager.default
    var out: [String] = []
    for case let path as String in fm.enumerator(atPath: root)! {
        let a = try fm.attributesOfItem(atPath: root + "/" + path)
        out.append("\(path) \(a[.size] ?? 0) \((a[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0)")
    }
    return out.sorted()
}

@Suite(.serialized) struct RunInputErrorTests {
    @Test func badInputExitsOneBeforeAnyWorkAndWritesNothing() throws {
        let cli = try CLI("run-input-errors")
        // a run to refuse a different config against
        try cli.run(["run", quickstart, "--run", "q"] + tiny)
        let unknownKeyFile = cli.scratch.file("unknown-key.yaml")
        let text = try String(contentsOfFile: quickstart, encoding: .utf8).replacingOccurrences(of: "\ntrain: {", with: "\ntrain: {warmup_ratio: 0.1, ")
        try text.write(toFile: unknownKeyFile, atomically: true, encoding: .utf8)
        let unknownKeyLine = text.split(separator: "\n", omittingEmptySubsequences: false).firstIndex { $0.hasPrefix("train:") }! + 1

        let cases: [(what: String, args: [String], message: String)] = [
            ("unknown method", ["run", quickstart, "--run", "a"] + tiny + ["--set", "method=ppo"], "'method'"),
            ("unknown key", ["run", unknownKeyFile, "--run", "b"] + tiny, "unknown-key.yaml:\(unknownKeyLine): 'train.warmup_ratio'"),
            ("wrong type", ["run", quickstart, "--run", "c"] + tiny + ["--set", "rl.num_generations=four"], "'rl.num_generations'"),
            ("missing model ref", ["run", quickstart, "--run", "d"] + tiny + ["--set", "model={ref: models/nope}"], "'model.ref'"),
            ("missing model file", ["run", quickstart, "--run", "e"] + tiny + ["--set", "model={llama2c: /nonexistent/m.bin, tokenizer: /nonexistent/t.bin}"], "'model.llama2c': no readable file"),
            ("missing model directory", ["run", quickstart, "--run", "e2"] + tiny + ["--set", "model.hf=/nonexistent/arith-base"], "'model.hf': no Hugging Face model directory"),
            ("two models", ["run", quickstart, "--run", "e3"] + tiny + ["--set", "model.llama2c=/nonexistent/m.bin"], "'model': names hf and llama2c"),
            ("missing data file", ["run", quickstart, "--run", "f"] + tiny + ["--set", "data.sft={file: /nonexistent/sft.jsonl, format: gsm8k}"], "'data.sft.file': no readable file"),
            ("another config, same run", ["run", quickstart, "--run", "q"] + tiny + ["--set", "rl.temperature=0.7"], "another config"),
            ("--set of no key", ["run", quickstart, "--run", "g"] + tiny + ["--set", "rl.warmup=3"], "--set rl.warmup"),
        ]
        for c in cases {
            let before = try listing(cli.store)
            let r = try cli.run(c.args, expect: 1)
            #expect(r.stderr.hasPrefix("error: "), "\(c.what): \(r.stderr)")
            #expect(r.stderr.contains(c.message), "\(c.what): expected '\(c.message)' in: \(r.stderr)")
            #expect(try listing(cli.store) == before, "\(c.what): the store changed")
        }
    }
}
