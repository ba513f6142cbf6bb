// What `bridge report` shows of a run (DESIGN.md §3–4): its history of run states, walked from
// refs/runs/R/head back through each state's `parent` (and from every refs/runs/R/steps/K, so a
// kept step beyond a gap is found too); the canonical config the states name; the stage wall
// time its journal records. States of pruned steps that gc collected are simply absent: the
// report plots what exists and lists the missing steps. ReportMetric is the catalog of curves:
// which run-state metric keys (as PipelineRunner records them) make which chart.

import ShardStore
import Tensors

/// An unknown run, or an output directory that cannot be written: the user's input (exit 1).
public struct ReportError: ClassifiedError {
    public let description: String
    public init(_ description: String) { self.description = description }
    public var errorClass: ErrorClass { .input }
}

/// One run as the report sees it.
public struct ReportRun: Sendable {
    public let name: String
    /// The head state's id and the state.
    public let head: ObjectID
    public let state: RunState
    /// The states found, by step ascending (step 0 is the start and holds no metrics).
    public let history: [RunState]
    /// Steps in 1...state.step whose states are no longer in the store (pruned and collected).
    public let missingSteps: [Int]
    /// The canonical pipeline config (defaults filled in; without `steps`).
    public let config: JSONValue
    /// Seconds of stage execution the journal records, in all and per step (nil: no journal lines).
    public let stageSeconds: Double?
    public let stepSeconds: [Int: Double]

    /// The latest value of a metric and its step.
    public func last(_ key: String) -> (step: Int, value: Double)? {
        for s in history.reversed() { if let v = s.metrics[key]?.doubleValue { return (s.step, v) } }
        return nil
    }

    /// The eval sets the run evaluated on (names from `eval/NAME/accuracy`), sorted.
    public var evalSets: [String] {
        Set(history.flatMap { $0.metrics.keys.compactMap(ReportMetric.evalSet(of:)) }).sorted()
    }
}

extension Store {
    /// A run's head, history, config and journal times; an unknown run is an error naming it.
    public func reportRun(_ name: String) throws -> ReportRun {
        do { try validateRunName(name) } catch { throw ReportError("no run '\(name)': \(error)") }
        guard let head = try readRef(try RefName("runs/\(name)/head")) else {
            throw ReportError("no run '\(name)' (no refs/runs/\(name)/head in the store at '\(root)')\nhint: 'bridge status' lists the runs")
        }
        let state = try runState(head)
        var states: [Int: RunState] = [:]
        /// Follows parents from `id` until a state already seen or one that is gone.
        func walk(from id: ObjectID?) throws {
            var next = id
            while let id = next, contains(id) {
                let s = try runState(id)
                guard states[s.step] == nil else { return }
                states[s.step] = s
                next = s.parent
            }
        }
        try walk(from: head)
        for ref in try listRefs(under: "runs/\(name)/steps") { try walk(from: ref.id) }
        let missing = state.step < 1 ? [] : (1...state.step).filter { states[$0] == nil }
        var stepSeconds: [Int: Double] = [:]
        var total: Double? = nil
        for line in try readJournal(run: name) {
            guard let s = line["wall_seconds"]?.doubleValue else { continue }
            total = (total ?? 0) + s
            if let k = line["step"]?.intValue { stepSeconds[k, default: 0] += s }
        }
        return ReportRun(name: name, head: head, state: state, history: states.values.sorted { $0.step < $1.step },
                         missingSteps: missing, config: try readJSON(state.config), stageSeconds: total, stepSeconds: stepSeconds)
    }
}

/// A chart: a title, and the metric key(s) whose values make each run's line(s).
public struct ReportMetric: Sendable {
    /// A line per run: the first of `keys` the run records, labelled "<run><suffix>"; dashed for a second line of the same run.
    public struct Line: Sendable {
        public let suffix: String
        public let keys: [String]
        public let dashed: Bool
        public init(suffix: String = "", keys: [String], dashed: Bool = false) { self.suffix = suffix; self.keys = keys; self.dashed = dashed }
    }

    /// File-name-safe id (the standalone SVG is `<id>.svg`).
    public let id: String
    public let title: String
    public let lines: [Line]
    /// Said under the chart, or when no run has it.
    public let note: String
    /// From the journal's wall_seconds (not the run state).
    public let fromJournal: Bool

    public init(id: String, title: String, lines: [Line], note: String = "", fromJournal: Bool = false) {
        self.id = id; self.title = title; self.lines = lines; self.note = note; self.fromJournal = fromJournal
    }

    /// `eval/NAME/accuracy` → NAME.
    static func evalSet(of key: String) -> String? {
        key.hasPrefix("eval/") && key.hasSuffix("/accuracy") && key.count > 14 ? String(key.dropFirst(5).dropLast(9)) : nil
    }

    /// The charts, in page order: the six main curves, one eval-accuracy chart per eval set, then diagnostics.
    public static func catalog(evalSets: [String]) -> [ReportMetric] {
        var out: [ReportMetric] = [
            .init(id: "reward", title: "reward (mean over rollouts)",
                  lines: [.init(keys: ["reward_mean"]), .init(suffix: " θ̂ (shadow)", keys: ["shadow/reward_mean"], dashed: true)],
                  note: "the score stage's mean reward of the step's rollouts; dashed: the RL-only shadow θ̂ (bridge.shadow_rollouts = separate)"),
            .init(id: "cooperative-gain", title: "cooperative gain J_RL(θ,w) − J_RL(θ̂,w), first-order", lines: [.init(keys: ["cooperative_gain"])],
                  note: "Σ weight·A·(log π_θ − log π_θ̂) over the sampled tokens, recorded by BRIDGE runs with bridge.shadow_rollouts = shared; 0 while θ̂ ≡ θ"),
            .init(id: "cooperative-gain-reward", title: "cooperative gain: reward of θ+w − reward of θ̂+w", lines: [.init(keys: ["cooperative_gain_reward"])],
                  note: "the difference of the two rollouts' mean rewards, recorded by BRIDGE runs with bridge.shadow_rollouts = separate"),
            .init(id: "sft-loss", title: "SFT loss", lines: [.init(keys: ["sft_loss"])], note: "mean cross-entropy of the step's SFT batch"),
            .init(id: "kl", title: "KL to π_ref", lines: [.init(keys: ["rl_kl", "rl_step/rl_kl"])],
                  note: "mean per-token KL of the RL term (recorded when rl.beta > 0)"),
            .init(id: "response-length", title: "response length (tokens, mean)",
                  lines: [.init(keys: ["response_tokens_mean"]), .init(suffix: " θ̂ (shadow)", keys: ["shadow/response_tokens_mean"], dashed: true)],
                  note: "mean length of the step's rollouts"),
        ]
        for name in evalSets {
            out.append(.init(id: "eval-" + String(name.map { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" ? $0 : "_" }),
                             title: "eval accuracy: \(name)", lines: [.init(keys: ["eval/\(name)/accuracy"])],
                             note: "greedy pass@1 on the eval set '\(name)' (at the steps schedule.eval_every evaluates)"))
        }
        if evalSets.isEmpty {
            out.append(.init(id: "eval-accuracy", title: "eval accuracy", lines: [], note: "no run has evaluated (schedule.eval_every = 0 or no data.eval)"))
        }
        out += [
            .init(id: "rollout-accuracy", title: "rollout accuracy", lines: [.init(keys: ["accuracy"]), .init(suffix: " θ̂ (shadow)", keys: ["shadow/accuracy"], dashed: true)],
                  note: "fraction of the step's rollouts graded correct"),
            .init(id: "rl-loss", title: "GRPO loss", lines: [.init(keys: ["rl_loss", "rl_step/rl_loss"])]),
            .init(id: "grad-norm-theta", title: "gradient norm of θ (before clipping)", lines: [.init(keys: ["grad_norm_theta"])]),
            .init(id: "grad-norm-lora", title: "gradient norm of w (Gw, before clipping)", lines: [.init(keys: ["grad_norm_lora"])],
                  note: "the upper step's gradient: (1−λ)·∇w L_sft + λ·(cooperative-gain term)"),
            .init(id: "step-seconds", title: "stage wall time per step (s)", lines: [.init(keys: ["wall_seconds"])],
                  note: "sum of the journal's wall_seconds of the step's stages (executions, not skips)", fromJournal: true),
        ]
        return out
    }

    /// A run's points for one line: (step, value) by step.
    public func points(_ run: ReportRun, _ line: Line) -> [(step: Int, value: Double)] {
        if fromJournal {
            return run.stepSeconds.filter { $0.key >= 1 }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        }
        guard let key = line.keys.first(where: { k in run.history.contains { $0.metrics[k]?.doubleValue != nil } }) else { return [] }
        return run.history.compactMap { s in s.metrics[key]?.doubleValue.flatMap { $0.isFinite ? (s.step, $0) : nil } }
    }
}
