// `bridge run`'s runner on every file in pipelines/ (tiny settings through --set overrides, so a
// step takes a moment in a debug build): each method runs; the same file and seed give the same
// head id in a fresh store, with one kernel thread as with two, and a run resumed from its head
// after 1 step ends where an uninterrupted one does; configuration errors name the file, line
// and key before any work; another config under the same run name is refused.

import Foundation
import Testing
import TestSupport
import Tensors
import Training
import LanguageModel
import Checkpoint
import Tokenizers
@testable import Pipeline
@testable import ShardStore

let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

/// Overrides that make any pipeline file tiny, with the built-in base by its absolute path.
let tinyOverrides = [
    "model={hf: \(repositoryRoot)/pipelines/models/arith-base}",
    "data.sft={source: synthetic, level: 1, count: 16}", "data.rl={source: synthetic, level: 1, count: 16}",
    "data.eval=[{name: held-out, source: synthetic, level: 1, count: 4, split: test}]",
    "rl.prompts_per_step=2", "rl.num_generations=2", "rl.max_completion_length=6", "train.sft_batch_size=2",
    "evaluation.max_new_tokens=6", "schedule.eval_every=2", "cold_start.sft_steps=1", "steps=2",
]

@Suite struct PipelineRunTests {
    let scratch = ScratchDirectory("pipeline-run")

    func config(_ file: String, _ extra: [String] = []) throws -> PipelineConfig {
        try PipelineConfig.load(path: repositoryRoot + "/pipelines/" + file, overrides: tinyOverrides + extra)
    }

    @Test(arguments: ["quickstart.yaml", "sft.yaml", "rl-zero.yaml", "cold-start.yaml", "naive-alternating.yaml", "naive-mixing.yaml", "bridge.yaml"])
    func everyPipelineFileRuns(file: String) throws {
        let c = try config(file)
        let store = try Store.create(at: scratch.file(file))
        let state = try PipelineRunner(store: store, config: c, run: "r").execute()
        #expect(state.step == 2 && state.theta != state.parent)
        #expect(state.metrics["eval/held-out/accuracy"] != nil)
        if c.method == .bridge {
            #expect(state.lora != nil && state.thetaHat != nil && state.optimizers["lora"] != nil)
        } else {
            #expect(state.lora == nil && state.thetaHat == nil)
        }
        if c.method == .coldStart { #expect(state.reference == (try store.runState(state.parent!)).theta) }
        // every file in pipelines/ is one of these
        let files = try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/pipelines").filter { $0.hasSuffix(".yaml") }
        #expect(Set(files).isSubset(of: ["quickstart.yaml", "sft.yaml", "rl-zero.yaml", "cold-start.yaml", "naive-alternating.yaml", "naive-mixing.yaml", "bridge.yaml",
                                         "math-qwen2.5.yaml", "miniature.yaml"]))
    }

    /// miniature.yaml (tools/reproduce) as written: a pretrained base by ref, plain prompts, D_SFT
    /// and D_RL of one level under different seeds, the three test sets; every method of it runs two
    /// steps from a tiny base pretrained on the arithmetic corpus, each evaluating all three sets.
    @Test func theMiniatureFileRunsEveryMethodFromAPretrainedBase() throws {
        let asWritten = try PipelineConfig.load(path: repositoryRoot + "/pipelines/miniature.yaml")
        #expect(asWritten.model == .ref("arith-base") && asWritten.promptStyle == "plain")
        #expect(asWritten.canonical["data"]?["prompt_style"] == "plain")
        guard case let .synthetic(sftLevel, _, _, sftSeed, _)? = asWritten.sft?.source,
              case let .synthetic(rlLevel, _, _, rlSeed, _)? = asWritten.rl?.source else { Issue.record("SFT/RL are not synthetic"); return }
        #expect(sftLevel == rlLevel && sftSeed != rlSeed)
        #expect(asWritten.eval.map(\.name) == ["in-distribution", "harder", "equations"])
        #expect(asWritten.eval.allSatisfy { if case let .synthetic(_, _, split, _, _) = $0.source { split == "test" } else { false } })
        if case let .synthetic(_, _, _, _, family) = asWritten.eval[2].source { #expect(family == "equations") }

        let store = try Store.create(at: scratch.file("miniature"))
        let corpus = try ArithmeticCorpus.text(seed: 9, count: 400)
        let base = PretrainStage(tokenizer: try store.put(try Data(contentsOf: URL(fileURLWithPath: storiesFixtures + "/tok512.bin")).map { $0 }, kind: .blob).id,
                                 corpus: try store.put(Array(corpus.utf8), kind: .blob).id,
                                 config: ModelConfig(modelType: .qwen2, vocabSize: 512, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                                     numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 128, tieWordEmbeddings: true,
                                                     bosTokenId: 1, eosTokenIds: [2], dtype: "float32"),
                                 steps: 2, batch: 2, sequenceLength: 32, optimizer: AdamWConfig(lr: 3e-3), seed: 1)
        var paragraphs = base
        paragraphs.documents = .paragraphs
        try store.updateRef(try RefName("models/arith-base"), to: try StageRunner(store: store, run: "pretrain").execute(paragraphs).result.id("model"))
        let tiny = ["data.sft={source: synthetic, level: 3, count: 8, seed: 101}", "data.rl={source: synthetic, level: 3, count: 8, seed: 202}",
                    "data.eval=[{name: in-distribution, source: synthetic, level: 3, count: 2, split: test}, {name: harder, source: synthetic, level: 5, count: 2, split: test},"
                        + " {name: equations, source: synthetic, family: equations, level: 3, count: 2, split: test}]",
                    "rl.prompts_per_step=2", "rl.num_generations=2", "rl.max_completion_length=4", "train.sft_batch_size=2",
                    "evaluation.max_new_tokens=4", "schedule.eval_every=2", "cold_start.sft_steps=1", "steps=2"]
        for method in TrainingMethod.allCases {
            let c = try PipelineConfig.load(path: repositoryRoot + "/pipelines/miniature.yaml", overrides: tiny + ["method=\(method.rawValue)"])
            let state = try PipelineRunner(store: store, config: c, run: "m-\(method.rawValue)").execute()
            #expect(state.step == 2, "\(method)")
            for set in ["in-distribution", "harder", "equations"] { #expect(state.metrics["eval/\(set)/accuracy"] != nil, "\(method): \(set)") }
        }
        // every shard was tokenized with plain prompts (the problem alone)
        let journal = try String(contentsOfFile: store.root + "/journal/m-bridge.jsonl", encoding: .utf8)
        let tokenize = try journal.split(separator: "\n").map { try JSONValue(parsing: Array($0.utf8)) }.filter { $0["stage"] == "tokenize" }
        #expect(tokenize.count == 5)
        #expect(tokenize.allSatisfy { $0["params"]?["prompt_style"] == "plain" })
        #expect(tokenize.contains { $0["params"]?["synthetic"]?["family"] == "equations" })
    }

    /// math-qwen2.5.yaml as written names the paper's data (MATH train for SFT and RL, the five
    /// benchmarks, the Qwen2.5 template, the boxed-answer prompt); one step of it runs on a tiny
    /// random Qwen2 (a Qwen2-style BPE tokenizer, HF directory) with the committed excerpts of
    /// the same datasets in place of the full files.
    @Test func mathQwenFileRunsAStepOnATinyQwen2() throws {
        let file = repositoryRoot + "/pipelines/math-qwen2.5.yaml"
        let asWritten = try PipelineConfig.load(path: file)
        #expect(asWritten.method == .bridge && asWritten.template == "qwen2.5")
        guard case let .hf(dir) = asWritten.model else { Issue.record("model is not an hf directory"); return }
        #expect(!dir.isEmpty)
        for spec in [asWritten.sft, asWritten.rl] {
            guard case let .file(paths, format)? = spec?.source else { Issue.record("SFT/RL data are not files"); continue }
            #expect(format == "math" && paths.count == 7 && paths.allSatisfy { $0.contains("/math/train_") })
        }
        let benchmarks = ["math500", "minerva_math", "olympiadbench", "aime24", "amc23"]
        #expect(asWritten.eval.map(\.name) == benchmarks)
        for spec in asWritten.eval {
            guard case let .file(paths, _) = spec.source else { Issue.record("\(spec.name) is not a file"); continue }
            #expect(paths == ["../shared/data/\(spec.name)/test.jsonl"])
        }

        // a tiny Qwen2 with the Qwen2-style tokenizer (vocab 4004), random weights
        let model = scratch.file("tiny-qwen2")
        try FileManager.default.createDirectory(atPath: model, withIntermediateDirectories: true)
        var json = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: repositoryRoot + "/Tests/LanguageModelTests/Fixtures/qwen2/config.json"))) as! [String: Any]
        json["vocab_size"] = 4004
        json["max_position_embeddings"] = 4096
        json["eos_token_id"] = 2
        let configData = try JSONSerialization.data(withJSONObject: json, options: [.sortedKeys])
        try configData.write(to: URL(fileURLWithPath: model + "/config.json"))
        let mc = try ModelConfig(json: configData)
        let layout = ParameterLayout(config: mc)
        let params = FloatBuffer(count: layout.totalCount)
        var rng = Philox(seed: 11)
        rng.fillNormal(params.pointer, count: params.count, std: 0.02)
        try SafetensorsWriter.write(layout.tensors(of: params), metadata: ["format": "pt"], to: model + "/model.safetensors")
        try FileManager.default.copyItem(atPath: tokenizerFixtures.appendingPathComponent("qwen2-style/tokenizer.json").path, toPath: model + "/tokenizer.json")

        let samples = repositoryRoot + "/Tests/TrainingTests/Fixtures/samples"
        let eval = benchmarks.map { "{name: \($0), file: \(samples)/\($0)_test.jsonl, limit: 1}" }.joined(separator: ", ")
        let c = try PipelineConfig.load(path: file, overrides: [
            "model.hf=\(model)",
            "data.sft={file: [\(samples)/math_test_algebra.jsonl, \(samples)/math500_test.jsonl], format: math, limit: 4}",
            "data.rl={file: \(samples)/math_test_algebra.jsonl, format: math, limit: 2}", "data.eval=[\(eval)]",
            "rl.prompts_per_step=2", "rl.num_generations=2", "rl.max_completion_length=4", "train.sft_batch_size=2",
            "evaluation.max_new_tokens=4", "schedule.eval_every=1", "steps=1",
        ])
        let store = try Store.create(at: scratch.file("math-qwen"))
        let state = try PipelineRunner(store: store, config: c, run: "m").execute()
        #expect(state.step == 1 && state.lora != nil && state.thetaHat != nil)
        for name in benchmarks { #expect(state.metrics["eval/\(name)/accuracy"] != nil, "no accuracy for \(name)") }
        #expect(state.metrics["sft_loss"]?.doubleValue.map { $0.isFinite && $0 > 0 } == true)
        // the prompts are the paper's: the Qwen2.5 chat template around problem + boxed-answer instruction
        let tokenize = try store.readJournal(run: "m").filter { $0["stage"]?.stringValue == "tokenize" && $0["params"]?["kind"]?.stringValue == "eval" }
        #expect(tokenize.count == 5)
        let shard = try TokenShard.load(from: store, id: ObjectID(hex: tokenize[0]["outputs"]!["shard"]!.stringValue!)!)
        let tok = try TokenizerLoader.load(bytes: try fixtureBytes("qwen2-style/tokenizer.json"), name: "qwen")
        let prompt = tok.decode(Array(shard.prompt(0)), skipSpecialTokens: false)
        #expect(prompt.hasPrefix("<|im_start|>system\n") && prompt.hasSuffix("Please reason step by step, and put your final answer within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n"), "\(prompt)")
    }

    @Test func sameHeadInAFreshStoreWithOneThreadAndAfterAResume() throws {
        let c = try config("quickstart.yaml", ["bridge.shadow_rollouts=separate"])
        let a = try Store.create(at: scratch.file("a")), b = try Store.create(at: scratch.file("b"))
        try PipelineRunner(store: a, config: c, run: "q").execute()
        let head = try a.readRef(try RefName("runs/q/head"))
        try KernelThreads.limit(to: 1) {
            try PipelineRunner(store: b, config: c, run: "q").execute(steps: 1)
            let resumed = try PipelineRunner(store: b, config: c, run: "q")
            #expect(try resumed.execute().step == 2)
        }
        #expect(try b.readRef(try RefName("runs/q/head")) == head)
        // running it again does nothing and writes nothing
        let objects = try b.allObjectIDs().count
        try PipelineRunner(store: b, config: c, run: "q").execute()
        #expect(try b.allObjectIDs().count == objects)
        // a different config under the same name is refused
        let other = try config("quickstart.yaml", ["bridge.lambda=0.7"])
        #expect { try PipelineRunner(store: b, config: other, run: "q").execute() } throws: { "\($0)".contains("another config") }
    }

    @Test func badInputNamesFileLineAndKey() throws {
        func error(_ yaml: String, _ overrides: [String] = []) -> String {
            do { _ = try PipelineConfig.parse(yaml: yaml, file: "p.yaml", overrides: overrides) } catch { return "\(error)" }
            return "no error"
        }
        let base = "model: {ref: models/x}\nmethod: bridge\ndata:\n  sft: {source: synthetic}\n  rl: {source: synthetic}\n"
        #expect(error(base) == "no error")
        #expect(error(base + "rl:\n  beta: high\n").hasPrefix("p.yaml:7: 'rl.beta': expected a number"))
        #expect(error(base + "rl:\n  betta: 0.1\n").hasPrefix("p.yaml:7: 'rl.betta': unknown key"))
        #expect(error(base.replacingOccurrences(of: "bridge", with: "ppo")).hasPrefix("p.yaml:2: 'method': unknown method 'ppo'"))
        #expect(error(base + "bridge: {lambda: 1.5}\n").contains("'bridge.lambda.value'"))
        #expect(error(base + "rl: {num_generations: 1}\n").contains("'rl.num_generations': must be ≥ 2"))
        #expect(error(base + "rl: {temperature: 0}\n").contains("'rl.temperature'"))
        #expect(error(base + "bridge: {lora: {target_modules: [qkv]}}\n").contains("'bridge.lora.target_modules'"))
        #expect(error(base, ["rl.bta=1"]).hasPrefix("--set rl.bta: no such key"))
        #expect(error(base, ["rl.beta=x"]).hasPrefix("--set: 'rl.beta': expected a number"))
        #expect(error("model: {ref: x}\nmethod: rl-zero\n").contains("'data.rl'"))
        // overrides are part of the canonical config
        let a = try PipelineConfig.parse(yaml: base, file: "p.yaml"), b = try PipelineConfig.parse(yaml: base, file: "p.yaml", overrides: ["rl.beta=0"])
        #expect(a.json != b.json && b.grpo.beta == 0)
        // a model that does not exist: an error before any work
        let store = try Store.create(at: scratch.file("bad"))
        let missing = try config("quickstart.yaml", ["model.hf=/nonexistent/arith-base"])
        #expect(throws: (any Error).self) { try PipelineRunner(store: store, config: missing, run: "q").execute() }
        #expect(try store.readRef(try RefName("runs/q/head")) == nil)
    }

    /// keep_last 2, keep_every 3: after 7 steps gc keeps steps 3, 6, 7 (and the data), drops the rest;
    /// the kept steps verify; resumed from the head, the run ends where an uninterrupted one does.
    /// 30 steps with keep_last 3: gc leaves exactly what the refs and kept steps reach (every
    /// object left is reachable, and of the steps' weights, adapters and optimizer states only
    /// steps 28–30's remain), the kept steps verify, and the run resumed from its head after gc
    /// takes the same next step as a copy of the store from before gc.
    @Test func retentionLetsGCDropPrunedStepsAndTheRunResumesBitExactly() throws {
        let steps = 30
        let c = try config("quickstart.yaml", ["schedule.keep_last=3", "schedule.keep_every=0", "schedule.eval_every=0", "steps=\(steps)",
                                               "data.eval=[]"])
        let store = try Store.create(at: scratch.file("retention"))
        try PipelineRunner(store: store, config: c, run: "q").execute()
        let kept = Set(steps - 2...steps)
        #expect(try store.keptSteps(run: "q") == kept)
        // every step's outputs by step, from the journal
        var outputs: [Int: Set<ObjectID>] = [:]
        for line in try store.readJournal(run: "q") {
            guard let step = line["step"]?.intValue, step > 0, let o = line["outputs"]?.objectValue else { continue }
            for v in o.values { if let id = v.stringValue.flatMap(ObjectID.init(hex:)) { outputs[step, default: []].insert(id) } }
        }
        #expect(outputs.count == steps)
        let beforeGC = scratch.file("retention-before-gc")
        try FileManager.default.copyItem(atPath: scratch.file("retention"), toPath: beforeGC)

        let report = try store.gc(dryRun: false, graceSeconds: 0)
        #expect(!report.removed.isEmpty)
        let reach = store.reachability(from: try store.roots())
        #expect(reach.missing.isEmpty && reach.unreadable.isEmpty)
        let left = Set(try store.allObjectIDs())
        #expect(left == reach.reachable, "gc left \(left.subtracting(reach.reachable).count) unreachable objects")
        // what kept steps produced stays; what only pruned steps produced is gone
        let keptOutputs = kept.reduce(into: Set<ObjectID>()) { $0.formUnion(outputs[$1]!) }
        #expect(keptOutputs.isSubset(of: left))
        for step in 1..<(steps - 2) {
            let only = outputs[step]!.subtracting(keptOutputs)
            #expect(only.isDisjoint(with: left), "step \(step): \(only.intersection(left).count) of its objects survived gc")
        }
        for step in kept {
            let state = try store.runState(try #require(try store.readRef(try RefName("runs/q/steps/\(step)"))))
            for id in [state.theta, state.thetaHat!, state.lora!] + state.optimizers.values { #expect(left.contains(id)) }
        }
        #expect(try store.verify().corrupt.isEmpty)
        // resumed after gc: the same next step as the store before gc
        try PipelineRunner(store: store, config: c, run: "q").execute(steps: steps + 1)
        let copy = try Store(at: beforeGC)
        try PipelineRunner(store: copy, config: c, run: "q").execute(steps: steps + 1)
        #expect(try store.readRef(try RefName("runs/q/head")) == copy.readRef(try RefName("runs/q/head")))
    }
}
