// The run state (DESIGN.md §3): a run's progress as one small manifest object, written by the
// stages' caller after each step's outputs and journal lines, pointed at by refs/runs/R/head.
// Every object it depends on is named by an "id" key (so gc keeps them while the state is kept);
// "parent" (the previous state) is provenance. schemas/run-state.schema.json is its contract.
//
//   {"format": "bridge-run-state", "version": 1, "step": k, "method": "bridge", "seed": "0",
//    "theta": {"id"}, "theta_hat": {"id"} | null, "lora": {"id"} | null,
//    "optimizer": {"theta": {"id"} | null, "theta_hat": …, "lora": …},
//    "reference": {"id"} | null, "cursors": {"rl": n, "sft": n}, "config": {"id"},
//    "parent": "<32 hex>" | null, "metrics": {…}}

import ShardStore
import Training

public struct RunState: Sendable, Equatable {
    public static let format = "bridge-run-state"

    public var step: Int
    public var method: TrainingMethod
    public var seed: UInt64
    public var theta: ObjectID
    public var thetaHat: ObjectID?
    public var lora: ObjectID?
    /// AdamW states by part: "theta", "theta_hat", "lora" (nil: not created yet).
    public var optimizers: [String: ObjectID]
    public var reference: ObjectID?
    /// Data positions: "rl" (prompts consumed) and "sft" (examples consumed).
    public var cursors: [String: Int]
    /// The canonical pipeline config's id.
    public var config: ObjectID
    public var parent: ObjectID?
    public var metrics: [String: JSONValue]

    public static let parts = ["theta", "theta_hat", "lora"]

    public init(step: Int, method: TrainingMethod, seed: UInt64, theta: ObjectID, thetaHat: ObjectID? = nil, lora: ObjectID? = nil,
                optimizers: [String: ObjectID] = [:], reference: ObjectID? = nil, cursors: [String: Int] = ["rl": 0, "sft": 0],
                config: ObjectID, parent: ObjectID? = nil, metrics: [String: JSONValue] = [:]) {
        self.step = step; self.method = method; self.seed = seed; self.theta = theta; self.thetaHat = thetaHat; self.lora = lora
        self.optimizers = optimizers; self.reference = reference; self.cursors = cursors; self.config = config
        self.parent = parent; self.metrics = metrics
    }

    public var json: JSONValue {
        func ref(_ id: ObjectID?) -> JSONValue { id.map { ["id": .string($0.hex)] } ?? .null }
        return [
            "format": .string(Self.format), "version": 1, "step": .int(step), "method": .string(method.rawValue), "seed": .string(String(seed)),
            "theta": ref(theta), "theta_hat": ref(thetaHat), "lora": ref(lora),
            "optimizer": .object(Dictionary(uniqueKeysWithValues: Self.parts.map { ($0, ref(optimizers[$0])) })),
            "reference": ref(reference), "cursors": .object(cursors.mapValues { .int($0) }), "config": ref(config),
            "parent": parent.map { .string($0.hex) } ?? .null, "metrics": .object(metrics),
        ]
    }

    /// Reads a state back; an error names the key that is missing or wrong.
    public init(json: JSONValue, name: String = "run state") throws {
        func bad(_ key: String, _ why: String) -> PipelineError { .invalidInput("\(name): '\(key)' \(why)") }
        guard let o = json.objectValue else { throw bad("", "is not a JSON object") }
        guard o["format"]?.stringValue == Self.format, o["version"]?.intValue == 1 else { throw bad("format", "is not \(Self.format) version 1") }
        let known: Set<String> = ["format", "version", "step", "method", "seed", "theta", "theta_hat", "lora", "optimizer", "reference",
                                  "cursors", "config", "parent", "metrics"]
        if let extra = o.keys.sorted().first(where: { !known.contains($0) }) { throw bad(extra, "is not a run-state key") }
        func id(_ v: JSONValue?, _ key: String, required: Bool) throws -> ObjectID? {
            guard let v, v != .null else {
                if required { throw bad(key, "is missing") }
                return nil
            }
            guard let s = v["id"]?.stringValue, let id = ObjectID(hex: s) else { throw bad(key, "must be {\"id\": <32 hex>} or null") }
            return id
        }
        guard let step = o["step"]?.intValue, step >= 0 else { throw bad("step", "must be an integer ≥ 0") }
        guard let m = o["method"]?.stringValue, let method = TrainingMethod(rawValue: m) else { throw bad("method", "must be one of \(TrainingMethod.allCases.map(\.rawValue))") }
        guard let s = o["seed"]?.stringValue, let seed = UInt64(s) else { throw bad("seed", "must be a decimal string") }
        var optimizers: [String: ObjectID] = [:]
        let opt = o["optimizer"]?.objectValue ?? [:]
        for (k, v) in opt {
            guard Self.parts.contains(k) else { throw bad("optimizer.\(k)", "is not a part (theta, theta_hat, lora)") }
            if let i = try id(v, "optimizer.\(k)", required: false) { optimizers[k] = i }
        }
        var cursors: [String: Int] = [:]
        for (k, v) in o["cursors"]?.objectValue ?? [:] {
            guard let n = v.intValue, n >= 0 else { throw bad("cursors.\(k)", "must be an integer ≥ 0") }
            cursors[k] = n
        }
        let parent: ObjectID?
        switch o["parent"] {
        case nil, .null?: parent = nil
        case let v?:
            guard let s = v.stringValue, let p = ObjectID(hex: s) else { throw bad("parent", "must be a 32-hex id or null") }
            parent = p
        }
        self.init(step: step, method: method, seed: seed, theta: try id(o["theta"], "theta", required: true)!,
                  thetaHat: try id(o["theta_hat"], "theta_hat", required: false), lora: try id(o["lora"], "lora", required: false),
                  optimizers: optimizers, reference: try id(o["reference"], "reference", required: false), cursors: cursors,
                  config: try id(o["config"], "config", required: true)!, parent: parent, metrics: o["metrics"]?.objectValue ?? [:])
    }
}

extension Store {
    public func putRunState(_ state: RunState) throws -> ObjectID { try putManifest(state.json) }

    public func runState(_ id: ObjectID) throws -> RunState {
        try RunState(json: try readJSON(id), name: "run state \(id.hex.prefix(12))")
    }

    /// Whether object `id` is a run state (reads its manifest only).
    public func isRunState(_ id: ObjectID) -> Bool {
        (try? header(id))?.kind == .manifest && (try? readJSON(id))?["format"]?.stringValue == RunState.format
    }
}
