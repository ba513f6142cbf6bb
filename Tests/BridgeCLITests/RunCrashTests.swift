// Crash-exact resume of `bridge run`: a tiny BRIDGE quickstart (3 steps, separate shadow
// rollouts, an eval) run uninterrupted gives a head id; in a fresh store the same command is
// killed (SIGKILL, from inside the store's write funnel: BRIDGE_CRASH_AFTER_WRITES) at ≥ 25
// moments — during tokenize, rollouts, scoring, lower and upper steps, store writes, between a
// stage's outputs and its journal line, between the journal and the head — and re-run each time
// until it completes. The final head is the same id, every object is whole, verify is clean, and
// no completed stage key is journaled twice.

import Foundation
import Testing
import TestSupport
import ShardStore
import Tensors

@Suite(.serialized) struct RunCrashTests {
    @Test func killedAtManyMomentsTheRunEndsAtTheSameHead() throws {
        let args = tinyQuickstartRun("q", steps: 3, ["bridge.shadow_rollouts=separate"])

        let reference = try CLI("run-crash-ref")
        try reference.run(args)
        let expected = try #require(try Store(at: reference.store).readRef(try RefName("runs/q/head")))

        let cli = try CLI("run-crash")
        var rng = Philox(seed: 2026)
        var killed = 0, rounds = 0, completed = false
        while !completed && rounds < 80 {
            // crash points spread over a growing range, so that every kind of moment is hit and runs progress
            let point = 1 + rng.below(60 + 45 * rounds)
            rounds += 1
            let p = try startBridge(args + ["--store", cli.store], environment: ["BRIDGE_CRASH_AFTER_WRITES": String(point)])
            p.waitUntilExit()
            let died = p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL
            #expect(died || p.terminationStatus == 0, "crash point \(point): exited \(p.terminationStatus)")
            if died { killed += 1 } else { completed = true }
            #expect(try allObjectsAreWhole(cli.store), "crash point \(point): a partial object is visible")
            // the head, when there is one, is a readable run state
            let store = try Store(at: cli.store)
            if let head = try store.readRef(try RefName("runs/q/head")) { _ = try store.readJSON(head) }
        }
        #expect(completed, "the run never completed in \(rounds) rounds")
        #expect(killed >= 25, "only \(killed) kills")
        let store = try Store(at: cli.store)
        #expect(try store.readRef(try RefName("runs/q/head")) == expected)
        #expect(try cli.json(["ckpt", "verify"])["ok"] == true)
        // no completed stage key appears twice as done
        let done = try store.readJournal(run: "q").filter { $0["status"]?.stringValue == "done" }.compactMap { $0["key"]?.stringValue }
        #expect(Set(done).count == done.count, "\(done.count - Set(done).count) stage keys journaled twice")
        #expect(done.count >= 3 * 7, "expected every stage of 3 steps in the journal")
    }
}
