// The run state: round-trips through the store, its JSON has exactly the keys of
// schemas/run-state.schema.json, a bad state names the key, and gc keeps what it names alive.

import Foundation
import Testing
import TestSupport
import Training
@testable import Pipeline
@testable import ShardStore

@Suite struct RunStateTests {
    let scratch = ScratchDirectory("run-state")

    @Test func roundTripsMatchesTheSchemaAndKeepsItsObjects() throws {
        let store = try Store.create(at: scratch.file("s"))
        let theta = try store.put([1, 2, 3], kind: .blob).id, lora = try store.put([4], kind: .blob).id
        let opt = try store.put([5], kind: .blob).id, config = try store.putManifest(["seed": 0])
        let state = RunState(step: 3, method: .bridge, seed: 7, theta: theta, thetaHat: theta, lora: lora, optimizers: ["theta": opt],
                             reference: theta, cursors: ["rl": 24, "sft": 48], config: config, metrics: ["reward_mean": 0.25])
        let id = try store.putRunState(state)
        #expect(try store.runState(id) == state)
        #expect(store.isRunState(id) && !store.isRunState(config))

        let schemaURL = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("schemas/run-state.schema.json")
        let schema = try JSONValue(parsing: try String(contentsOf: schemaURL, encoding: .utf8))
        let required = Set(schema["required"]!.arrayValue!.compactMap(\.stringValue))
        #expect(Set(state.json.objectValue!.keys) == required)
        #expect(Set(schema["properties"]!["method"]!["enum"]!.arrayValue!.compactMap(\.stringValue)) == Set(TrainingMethod.allCases.map(\.rawValue)))

        // gc keeps what a kept state names
        try store.updateRef(try RefName("runs/r/head"), to: id)
        let reachable = store.reachability(from: try store.roots()).reachable
        #expect([theta, lora, opt, config].allSatisfy(reachable.contains))

        // errors name the key
        var json = state.json.objectValue!
        json["theta"] = ["id": "xyz"]
        #expect { try RunState(json: .object(json)) } throws: { "\($0)".contains("'theta'") }
        json = state.json.objectValue!
        json["lambda"] = 0.5
        #expect { try RunState(json: .object(json)) } throws: { "\($0)".contains("'lambda'") }
        json = state.json.objectValue!
        json["method"] = "grpo"
        #expect { try RunState(json: .object(json)) } throws: { "\($0)".contains("'method'") }
    }
}
