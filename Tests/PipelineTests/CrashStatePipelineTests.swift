// Every crash state of a whole pipeline step (TestSupport/CrashStates.swift): step 2 of a tiny
// BRIDGE run with keep_last 1 (so the step also prunes step 1's ref: retention), and an import
// of a model. In every state a kill or a power loss at any point of the step could leave, the
// store opens, the committed step-1 head and its objects are intact or the step's new head is
// there whole, `verify` is clean, and the resumed run ends at the head an uninterrupted run
// reaches, to the bit.

import Foundation
import Testing
import TestSupport
import Checkpoint
@testable import Pipeline
@testable import ShardStore

@Suite struct CrashStatePipelineTests {
    let scratch = ScratchDirectory("crash-states-pipeline")

    @Test func everyCrashStateOfAPipelineStepResumesToTheSameHead() throws {
        let config = try PipelineConfig.load(path: repositoryRoot + "/pipelines/quickstart.yaml",
                                             overrides: tinyOverrides + ["schedule.keep_last=1", "schedule.keep_every=0", "schedule.eval_every=2"])
        let store = try Store.create(at: scratch.file("store"))
        try PipelineRunner(store: store, config: config, run: "q").execute(steps: 1)
        // A step is a few thousand operations, and running it again takes a second in a debug
        // build: the suite samples the points inside object writes and resumes in every 25th
        // state (and the complete ones); tools/crash-states.sh checks every point and resumes in
        // every state.
        let env = ProcessInfo.processInfo.environment
        let sample = Int(env["BRIDGE_CRASH_STATES_SAMPLE"] ?? "") ?? 150
        let every = Int(env["BRIDGE_CRASH_STATES_RESUME_EVERY"] ?? "") ?? 25
        var head: ObjectID?
        let report = try CrashStates.check("pipeline-step", store: store, scratch: scratch.file("states"), sample: sample, resumeEvery: every, action: { s in
            try PipelineRunner(store: s, config: config, run: "q").execute(steps: 2)
        }, after: { s, state in
            // CrashStates.check ran the step again in this state: the same head, to the bit, as
            // the uninterrupted run, and its state reads back.
            if head == nil { head = try store.readRef(try RefName("runs/q/head")) }
            let now = try s.readRef(try RefName("runs/q/head"))
            guard now == head else { throw CrashCheckFailure(description: "resumed head \(now?.hex ?? "none") is not \(head!.hex)") }
            let run = try s.runState(now!)
            guard run.step == 2, s.contains(run.theta) else { throw CrashCheckFailure(description: "resumed head is not a whole step 2") }
        })
        #expect(report.states >= 10 && report.operations > 50, "\(report)")
        #expect(try store.keptSteps(run: "q") == [2])
    }

    @Test func everyCrashStateOfAModelImport() throws {
        let store = try Store.create(at: scratch.file("import"))
        let report = try CrashStates.check("import-llama2c", store: store, scratch: scratch.file("import-states"),
                                            sample: Int(ProcessInfo.processInfo.environment["BRIDGE_CRASH_STATES_SAMPLE"] ?? "") ?? 40, action: { s in
            let set = try s.importLlama2c(file: "\(storiesFixtures)/stories260K.bin", tokenizer: "\(storiesFixtures)/tok512.bin")
            try s.updateRef(try RefName.model("stories"), to: set.id!)
        })
        #expect(report.states >= 5, "\(report)")
    }
}
