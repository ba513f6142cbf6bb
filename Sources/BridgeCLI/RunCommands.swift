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
        let display = ProgressDisplay(run: name, live: isatty(STDERR_FILENO) == 1 && ProcessInfo.processInfo.environment["TERM"] != "dumb")
        let log: (String) -> Void = { display.line($0) }
        var runner = try PipelineRunner(store: store, config: config, run: name, log: log, stageLog: verbose ? log : { _ in })
        runner.progress = { display.update($0) }
        signal(SIGINT) { _ in
            if pipelineInterrupted { Foundation.exit(130) }
            pipelineInterrupted = true
        }
        let state: RunState
        do {
            state = try runner.execute(steps: steps)
        } catch let e as PipelineInterrupted {
            display.finish()
            log("\(e)")
            throw ExitCode(130)
        } catch let e as PipelineConfigError {
            throw UserError(e.description)
        }
        display.finish()
        if json { printJSON(state.json); return }
        print("run \(name): step \(state.step), head \(try store.readRef(try RefName("runs/\(name)/head"))!.hex)")
        for (k, v) in state.metrics.sorted(by: { $0.key < $1.key }) where k.hasPrefix("eval/") || ["reward_mean", "sft_loss", "rl_kl"].contains(k) {
            print("  \(k) = \(v)")
        }
    }
}

/// Progress on stderr. On a terminal: one live line, redrawn as stages start and steps commit
/// (step k/N, stage, elapsed, ETA, reward, SFT loss, cooperative gain), with a permanent line for
/// steps that evaluated. Otherwise: a plain line per committed step.
final class ProgressDisplay: @unchecked Sendable {
    let run: String
    let live: Bool
    private let start = Date()
    private var firstStep: Int?
    private var stepsDone = 0
    private var last: [String: JSONValue] = [:]
    private var shown = false

    init(run: String, live: Bool) {
        self.run = run
        self.live = live
    }

    /// A line that stays (above the live line on a terminal).
    func line(_ line: String) {
        write((live && shown ? "\r\u{1B}[K" : "") + line + "\n")
        shown = false
    }

    func update(_ p: RunProgress) {
        switch p.event {
        case let .stage(name):
            if firstStep == nil { firstStep = p.step }
            if live { draw(step: p.step, target: p.target, stage: name) }
        case let .committed(state):
            stepsDone += 1
            last = state.metrics
            let hasEval = state.metrics.keys.contains { $0.hasPrefix("eval/") }
            if !live || hasEval || state.step == p.target { line(PipelineRunner.summary(state, target: p.target)) }
        }
    }

    func finish() {
        if live && shown { write("\r\u{1B}[K"); shown = false }
    }

    private func draw(step: Int, target: Int, stage: String) {
        let elapsed = Date().timeIntervalSince(start)
        var parts = ["[\(run)] step \(step)/\(target)", stage.padding(toLength: 12, withPad: " ", startingAt: 0)]
        parts.append("ETA " + (stepsDone > 0 ? clock(elapsed / Double(stepsDone) * Double(max(target - step + 1, 0))) : "-:--"))
        parts += PipelineRunner.headline(last).filter { !$0.contains("accuracy") && !$0.hasPrefix("kl ") }
        var line = parts.joined(separator: "  ")
        let width = terminalWidth()
        if line.count > width - 1 { line = String(line.prefix(width - 1)) }
        write("\r\u{1B}[K" + line)
        shown = true
    }

    private func clock(_ t: Double) -> String {
        let s = Int(t.rounded())
        return s >= 3600 ? String(format: "%d:%02d:%02d", s / 3600, s / 60 % 60, s % 60) : String(format: "%d:%02d", s / 60, s % 60)
    }

    private func terminalWidth() -> Int {
        var w = winsize()
        return ioctl(STDERR_FILENO, UInt(TIOCGWINSZ), &w) == 0 && w.ws_col > 20 ? Int(w.ws_col) : 100
    }

    private func write(_ s: String) { FileHandle.standardError.write(Data(s.utf8)) }
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
        let stats = try store.stats()
        for name in runs {
            guard let head = try store.readRef(try RefName("runs/\(name)/head")) else { throw UserError("no run '\(name)' (no refs/runs/\(name)/head)") }
            let state = try store.runState(head)
            let config = try store.readJSON(state.config)
            let journal = try store.readJournal(run: name)
            let last = journal.last.flatMap { $0["stage"]?.stringValue } ?? "-"
            // what a resume does next: the stages of step k+1 the journal already holds are skipped
            let nextStep = state.step + 1
            let doneNext = journal.filter { $0["step"]?.intValue == nextStep }.compactMap { $0["stage"]?.stringValue }
            let kept = (try store.keptSteps(run: name) ?? []).sorted()
            // the run's own bytes: everything its refs (head, θ, θ̂, w, kept steps) reach
            let refs = try store.listRefs(under: "runs/\(name)").map { (label: "ref '\($0.name)'", id: $0.id) }
            let reach = store.reachability(from: refs)
            var runBytes = 0
            for id in reach.reachable { runBytes += (try? store.header(id).logicalLength) ?? 0 }
            let next = "`bridge run` with the same file continues at step \(nextStep)"
                + (doneNext.isEmpty ? "" : " (\(doneNext.count) of its stages already journaled: \(doneNext.joined(separator: ", ")); they are skipped)")
            if json {
                out.append(["run": .string(name), "head": .string(head.hex), "state": state.json, "config": config, "last_stage": .string(last),
                            "journal_lines": .int(journal.count), "kept_steps": .array(kept.map { .int($0) }),
                            "next": ["step": .int(nextStep), "journaled_stages": .array(doneNext.map { .string($0) })],
                            "store": ["run_objects": .int(reach.reachable.count), "run_logical_bytes": .int(runBytes),
                                      "store_objects": .int(stats.objects), "store_disk_bytes": .int(stats.diskBytes)]])
                continue
            }
            print("run \(name): step \(state.step) (\(state.method.rawValue)), head \(head.hex.prefix(12)), last stage '\(last)', \(journal.count) journal lines")
            print("  theta \(state.theta.hex.prefix(12))" + (state.thetaHat.map { "  theta_hat \($0.hex.prefix(12))" + ($0 == state.theta ? " (= theta)" : "") } ?? "")
                  + (state.lora.map { "  lora \($0.hex.prefix(12))" } ?? ""))
            for (k, v) in state.metrics.sorted(by: { $0.key < $1.key }) { print("  \(k) = \(v)") }
            print("  kept steps: \(kept.isEmpty ? "-" : kept.map(String.init).joined(separator: " "))")
            print("  store: the run's refs reach \(reach.reachable.count) objects (\(formatBytes(runBytes)) logical); the store holds \(stats.objects) objects, \(formatBytes(stats.diskBytes)) on disk")
            print("  next: \(next)")
        }
        if json { printJSON(runName == nil ? .array(out) : out.first ?? .null) }
    }
}
