// Stages: deterministic functions (name, version, canonical parameters, input object ids) →
// output object ids. The runner keys each execution by the hash of those inputs and skips it
// when the run's journal already holds a completed execution whose outputs are all in the store
// (DVC's dvc.lock, git's object model). Randomness inside a stage comes from counter-based
// generators seeded by (run seed, step, stage, purpose), so a re-run writes the same bytes.

import Foundation
import ShardStore

public protocol Stage {
    /// The stage name in journals and on the command line (tokenize, rollout, score, ...).
    static var name: String { get }
    /// Bumped whenever the stage's output for the same inputs changes.
    static var version: Int { get }
    /// Canonical parameters (everything besides input objects that affects the output).
    var params: JSONValue { get }
    /// Input object ids by role (a single id, a list, or an object of ids).
    var inputs: [String: JSONValue] { get }
    /// Computes and stores the outputs; returns their ids by role, and metrics.
    func run(in store: Store) throws -> StageResult
}

public struct StageResult: Sendable {
    public var outputs: [String: JSONValue]
    public var metrics: [String: JSONValue]

    public init(outputs: [String: JSONValue], metrics: [String: JSONValue] = [:]) {
        self.outputs = outputs
        self.metrics = metrics
    }

    /// The single output id of a role.
    public func id(_ role: String) throws -> ObjectID {
        guard let s = outputs[role]?.stringValue, let id = ObjectID(hex: s) else {
            throw PipelineError.missingOutput(role)
        }
        return id
    }
}

public enum PipelineError: Error, CustomStringConvertible {
    case missingOutput(String)
    case invalidInput(String)

    public var description: String {
        switch self {
        case let .missingOutput(role): "stage produced no '\(role)' output"
        case let .invalidInput(why): why
        }
    }
}

/// Runs stages of one run against the store, skipping those already done.
public struct StageRunner {
    public let store: Store
    public let run: String
    /// Called with a line of progress ("tokenize  done in 0.41 s" / "tokenize  skipped (unchanged)").
    public var log: (String) -> Void

    public init(store: Store, run: String, log: @escaping (String) -> Void = { _ in }) throws {
        try validateRunName(run)
        self.store = store
        self.run = run
        self.log = log
    }

    public struct Outcome: Sendable {
        public let result: StageResult
        public let key: ObjectID
        public let skipped: Bool
    }

    /// The key a stage would run under.
    public func key<S: Stage>(_ stage: S) -> ObjectID {
        StageRecord.key(stage: S.name, version: S.version, params: stage.params, inputs: stage.inputs)
    }

    /// A completed execution with this key whose outputs are all present, if the journal has one.
    public func completed(key: ObjectID) throws -> StageResult? {
        for line in try store.readJournal(run: run).reversed() where line["key"]?.stringValue == key.hex && line["status"]?.stringValue == "done" {
            let outputs = line["outputs"]?.objectValue ?? [:]
            if ids(in: .object(outputs)).allSatisfy(store.contains) {
                return StageResult(outputs: outputs, metrics: line["metrics"]?.objectValue ?? [:])
            }
        }
        return nil
    }

    /// Runs `stage` unless an identical execution is already journaled; journals what it ran.
    @discardableResult
    public func execute<S: Stage>(_ stage: S, step: Int? = nil) throws -> Outcome {
        let key = key(stage)
        if let done = try completed(key: key) {
            log("\(S.name.padding(toLength: 11, withPad: " ", startingAt: 0)) skipped (unchanged, key \(key.hex.prefix(12)))")
            return Outcome(result: done, key: key, skipped: true)
        }
        for id in ids(in: .object(stage.inputs)) where !store.contains(id) {
            throw StoreError.missingObject(id, neededBy: "stage '\(S.name)' input")
        }
        let start = Date()
        let result = try stage.run(in: store)
        let seconds = Date().timeIntervalSince(start)
        let record = StageRecord(stage: S.name, version: S.version, step: step, params: stage.params, inputs: stage.inputs,
                                 outputs: result.outputs, metrics: result.metrics,
                                 time: Date().formatted(.iso8601), wallSeconds: seconds)
        try store.appendJournal(run: run, record.json)
        log("\(S.name.padding(toLength: 11, withPad: " ", startingAt: 0)) done in \(String(format: "%.2f", seconds)) s (key \(key.hex.prefix(12)))")
        return Outcome(result: result, key: key, skipped: false)
    }

    private func ids(in v: JSONValue) -> [ObjectID] {
        switch v {
        case let .string(s): ObjectID(hex: s).map { [$0] } ?? []
        case let .array(a): a.flatMap { ids(in: $0) }
        case let .object(o): o.keys.sorted().flatMap { ids(in: o[$0]!) }
        default: []
        }
    }
}
