// Stages: deterministic functions (name, version, canonical parameters, input object ids) →
// output object ids. The runner keys each execution by the hash of those inputs and skips it
// when the run's journal already holds a completed execution whose outputs are all in the store
// (DVC's dvc.lock, git's object model). Randomness inside a stage comes from counter-based
// generators seeded by (run seed, step, stage, purpose), so a re-run writes the same bytes.

import Foundation
import ShardStore
import Tensors

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

public enum PipelineError: ClassifiedError {
    case missingOutput(String)
    case invalidInput(String)
    /// Another process moved the run's head while this one worked on the same step.
    case concurrentRun(run: String)

    public var errorClass: ErrorClass {
        if case .missingOutput = self { return .internal }
        return .input
    }

    public var description: String {
        switch self {
        case let .missingOutput(role): "stage produced no '\(role)' output"
        case let .invalidInput(why): why
        case let .concurrentRun(run): "run '\(run)' was advanced by another process while this one worked on the same step; nothing of either was lost\nhint: run one process per run; the same command again continues from the new head"
        }
    }
}

/// Runs stages of one run against the store, skipping those already done.
public struct StageRunner {
    public let store: Store
    public let run: String
    /// Called with a line of progress ("tokenize  done in 0.41 s" / "tokenize  skipped (unchanged)").
    public var log: (String) -> Void

    /// The run's journal by key, read once per runner (a long run's journal is not re-read per stage).
    private let index = JournalIndex()

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
        for line in try index.lines(key: key.hex, store: store, run: run).reversed() {
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
        index.add(record.json, key: key.hex)
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

/// The completed lines of one run's journal by stage key, loaded on first use.
final class JournalIndex {
    private var byKey: [String: [JSONValue]]? = nil

    func lines(key: String, store: Store, run: String) throws -> [JSONValue] {
        if byKey == nil {
            var index: [String: [JSONValue]] = [:]
            for line in try store.readJournal(run: run) where line["status"]?.stringValue == "done" {
                if let k = line["key"]?.stringValue { index[k, default: []].append(line) }
            }
            byKey = index
        }
        return byKey![key] ?? []
    }

    func add(_ line: JSONValue, key: String) {
        byKey?[key, default: []].append(line)
    }
}

/// One journal line: a completed stage execution (schemas/journal-line.schema.json).
public struct StageRecord: Sendable {
    public var stage: String
    public var version: Int
    public var step: Int?
    public var params: JSONValue
    public var inputs: [String: JSONValue]
    public var outputs: [String: JSONValue]
    public var metrics: [String: JSONValue]
    public var time: String
    public var wallSeconds: Double

    /// The key of a stage: the id its canonical description would have as a manifest object.
    public static func key(stage: String, version: Int, params: JSONValue, inputs: [String: JSONValue]) -> ObjectID {
        let spec: JSONValue = ["stage": .string(stage), "version": .int(version), "params": params, "inputs": .object(inputs)]
        return ObjectHasher.id(of: spec.canonicalBytes, kind: .manifest)
    }

    public init(stage: String, version: Int, step: Int? = nil, params: JSONValue = [:], inputs: [String: JSONValue] = [:],
                outputs: [String: JSONValue], metrics: [String: JSONValue] = [:], time: String, wallSeconds: Double) {
        self.stage = stage
        self.version = version
        self.step = step
        self.params = params
        self.inputs = inputs
        self.outputs = outputs
        self.metrics = metrics
        self.time = time
        self.wallSeconds = wallSeconds
    }

    /// Hash of (stage, version, params, inputs): the stage's key.
    public var key: ObjectID { StageRecord.key(stage: stage, version: version, params: params, inputs: inputs) }

    public var json: JSONValue {
        var o: [String: JSONValue] = [
            "stage": .string(stage), "version": .int(version), "key": .string(key.hex), "status": "done",
            "params": params, "inputs": .object(inputs), "outputs": .object(outputs), "metrics": .object(metrics),
            "time": .string(time), "wall_seconds": .double(wallSeconds),
        ]
        if let step { o["step"] = .int(step) }
        return .object(o)
    }
}
