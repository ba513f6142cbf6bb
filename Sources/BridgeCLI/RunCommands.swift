// `bridge run PIPELINE [--run NAME] [--steps N] [--set key.path=value ...]` and `bridge status
// [RUN]`: a pipeline file run step by step through the stages (Pipeline/PipelineRunner.swift).
// `--steps N` means "until the run has N steps", so repeating a command is harmless; after a
// crash the same command continues where it stopped; Ctrl-C stops after the stage in flight.

import ArgumentParser
import Checkpoint
import Foundation
import Pipeline
import ShardStore

struct Run: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run a pipeline file (pipelines/*.yaml) step by step; the same command resumes it.",
        discussion: "Progress goes to stderr; the final state to stdout (--json: the run state).")

    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "A pipeline file (YAML), e.g. pipelines/quickstart.yaml.") var pipeline: String
    @Option(name: .customLong("run"), help: "The run's name (default: the file's name without .yaml).") var runName: String?
    @Option(help: "Run until the run has this many steps (default: the file's `steps`).") var steps: Int?
    @Option(name: .customLong("set"), help: "Override a key: key.path=value (value read as YAML). Repeatable.") var overrides: [String] = []
    @Flag(name: .customLong("print-config"), help: "Print the canonical config (defaults filled in) and stop.") var printConfig = false
    @Flag(help: "Print the final run state as JSON.") var json = false
    @Flag(help: "Print a line per stage (run or skipped), not only per step.") var verbose = false

    func run() throws {
        let config: PipelineConfig
        do { config = try PipelineConfig.load(path: pipeline, overrides: overrides) } catch let e as PipelineConfigError { throw UserError(e.description) }
        if printConfig { printJSON(config.json); return }
        if let steps, steps < 0 { throw UserError("--steps must be ≥ 0") }
        let name = runName ?? URL(fileURLWithPath: pipeline).deletingPathExtension().lastPathComponent
        let store = try storeOptions.open()
        let log: (String) -> Void = { FileHandle.standardError.write(Data(($0 + "\n").utf8)) }
        let runner = try PipelineRunner(store: store, config: config, run: name, log: log, stageLog: verbose ? log : { _ in })
        signal(SIGINT) { _ in
            if pipelineInterrupted { Foundation.exit(130) }
            pipelineInterrupted = true
        }
        let state: RunState
        do {
            state = try runner.execute(steps: steps)
        } catch let e as PipelineInterrupted {
            log("\(e)")
            throw ExitCode(130)
        } catch let e as PipelineConfigError {
            throw UserError(e.description)
        }
        if json { printJSON(state.json); return }
        print("run \(name): step \(state.step), head \(try store.readRef(try RefName("runs/\(name)/head"))!.hex)")
        for (k, v) in state.metrics.sorted(by: { $0.key < $1.key }) where k.hasPrefix("eval/") || ["reward_mean", "sft_loss", "rl_kl"].contains(k) {
            print("  \(k) = \(v)")
        }
    }
}

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(abstract: "A run's step, latest metrics and config; without RUN, every run.")
    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "A run name.") var runName: String?
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let store = try storeOptions.open()
        let runs: [String]
        if let runName { runs = [runName] } else {
            runs = try store.listRefs().compactMap { r -> String? in
                let parts = r.name.path.split(separator: "/")
                return parts.count == 3 && parts[0] == "runs" && parts[2] == "head" ? String(parts[1]) : nil
            }.sorted()
        }
        var out: [JSONValue] = []
        for name in runs {
            guard let head = try store.readRef(try RefName("runs/\(name)/head")) else { throw UserError("no run '\(name)' (no refs/runs/\(name)/head)") }
            let state = try store.runState(head)
            let config = try store.readJSON(state.config)
            let journal = try store.readJournal(run: name)
            let last = journal.last.flatMap { $0["stage"]?.stringValue } ?? "-"
            if json {
                out.append(["run": .string(name), "head": .string(head.hex), "state": state.json, "config": config, "last_stage": .string(last),
                            "journal_lines": .int(journal.count)])
                continue
            }
            print("run \(name): step \(state.step) (\(state.method.rawValue)), head \(head.hex.prefix(12)), last stage '\(last)', \(journal.count) journal lines")
            print("  theta \(state.theta.hex.prefix(12))" + (state.thetaHat.map { "  theta_hat \($0.hex.prefix(12))" + ($0 == state.theta ? " (= theta)" : "") } ?? "")
                  + (state.lora.map { "  lora \($0.hex.prefix(12))" } ?? ""))
            for (k, v) in state.metrics.sorted(by: { $0.key < $1.key }) { print("  \(k) = \(v)") }
            print("  next: `bridge run` with the same file continues at step \(state.step + 1)")
        }
        if json { printJSON(runName == nil ? .array(out) : out.first ?? .null) }
    }
}
