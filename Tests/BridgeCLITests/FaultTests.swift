// Faults from outside, through the real executable: a file-size limit (ulimit -f, enforced by
// the kernel) during an import; a disk that fills up, and a file system that turns read-only, at
// many points of `bridge run` (injected in the write funnel: BRIDGE_FAIL_AFTER_WRITES); a process
// killed while it holds the store lock; gc racing a running pipeline; two runs writing one store
// at once. Each: a clear message and exit 1 where the user can act, `ckpt verify` clean
// afterwards, every committed ref still resolving, and the work completing once the fault is gone.

import Foundation
import Testing
import TestSupport
import ShardStore
import Tensors

@Suite(.serialized) struct FaultTests {
    static let runArgs = tinyQuickstartRun("q", steps: 2)

    /// Every ref of the store resolves and every object verifies.
    func storeIsWhole(_ cli: CLI, _ context: String, sourceLocation: SourceLocation = #_sourceLocation) throws {
        let verify = try runBridge(["ckpt", "verify", "--json", "--store", cli.store])
        #expect(verify.status == 0 && (try? JSONValue(parsing: verify.stdout))?["ok"] == true, "\(context): verify: \(verify.stdout) \(verify.stderr)",
                sourceLocation: sourceLocation)
        let store = try Store(at: cli.store)
        for (name, id) in try store.listRefs() {
            #expect(store.contains(id), "\(context): ref \(name) points at a missing object", sourceLocation: sourceLocation)
        }
    }

    @Test func aFileSizeLimitDuringAnImportFailsCleanly() throws {
        let cli = try CLI("fault-fsize")
        let small = cli.scratch.file("small.safetensors"), large = cli.scratch.file("large.safetensors")
        try writeSafetensors(small, count: 2, elements: 1000, seed: 1)
        try writeSafetensors(large, count: 4, elements: 200_000, seed: 2)
        try cli.run(["ckpt", "import", small, "--name", "small"])
        let before = try Store(at: cli.store).readRef(try RefName("models/small"))
        // 512 blocks (256 or 512 KiB, by the shell): the large model's 800 KB tensors cannot be written.
        let limited = try runBridge(["-c", "ulimit -f 512; exec \"$0\" \"$@\"", try bridgeExecutable(),
                                     "ckpt", "import", large, "--name", "large", "--store", cli.store], executable: "/bin/sh")
        #expect(limited.status == 1, "exited \(limited.status): \(limited.stderr)")
        #expect(limited.stderr.contains("File too large") && limited.stderr.contains(cli.store) && limited.stderr.contains("ulimit -f"), "\(limited.stderr)")
        try storeIsWhole(cli, "after the limit")
        #expect(try Store(at: cli.store).readRef(try RefName("models/small")) == before)
        #expect(try Store(at: cli.store).readRef(try RefName("models/large")) == nil)
        try cli.run(["ckpt", "import", large, "--name", "large"])
        try storeIsWhole(cli, "after the import")
    }

    @Test(arguments: ["ENOSPC", "EROFS"])
    func aFullOrReadOnlyDiskDuringARunLosesNothing(errno name: String) throws {
        let reference = try CLI("fault-ref")
        try reference.run(tinyQuickstartRun("q", steps: 1))
        try reference.run(Self.runArgs)
        let expected = try Store(at: reference.store).readRef(try RefName("runs/q/head"))
        let cli = try CLI("fault-run-\(name)")
        // After step 1, the disk fails at a spread of points of step 2 (and of the reruns).
        try cli.run(tinyQuickstartRun("q", steps: 1))
        let committed = try Store(at: cli.store).readRef(try RefName("runs/q/head"))
        var rng = Philox(seed: 7)
        var failures = 0
        for round in 0..<8 {
            let point = 1 + rng.below(40 + 120 * round)
            let r = try runBridge(Self.runArgs + ["--store", cli.store], environment: ["BRIDGE_FAIL_AFTER_WRITES": "\(point)", "BRIDGE_FAIL_ERRNO": name])
            if r.status == 0 { continue }
            failures += 1
            let reason = name == "ENOSPC" ? "No space left on device" : "Read-only file system"
            #expect(r.status == 1 && r.stderr.hasPrefix("error: ") && r.stderr.contains(reason) && r.stderr.contains(cli.store) && r.stderr.contains("hint:"),
                    "fault at \(point): exited \(r.status): \(r.stderr)")
            try storeIsWhole(cli, "fault at \(point)")
            let head = try Store(at: cli.store).readRef(try RefName("runs/q/head"))
            #expect(head == committed || head == expected, "fault at \(point): the head is neither step 1's nor step 2's")
        }
        #expect(failures >= 4)
        try cli.run(Self.runArgs)
        #expect(try Store(at: cli.store).readRef(try RefName("runs/q/head")) == expected)
        try storeIsWhole(cli, "after the run completed")
    }

    /// Killed inside its journal append (holding the store's lock) and inside a ref update:
    /// the lock dies with the process, the next command goes on, gc removes the dead writer's
    /// temporary directory.
    @Test func aLockLeftByAKilledProcessDoesNotStopTheNext() throws {
        let cli = try CLI("fault-lock")
        for point in [3, 9, 17, 40, 75] {
            let p = try startBridge(Self.runArgs + ["--store", cli.store], environment: ["BRIDGE_CRASH_AFTER_WRITES": "\(point)"])
            p.waitUntilExit()
            #expect(p.terminationReason == .uncaughtSignal, "crash point \(point): the run was not killed")
            try storeIsWhole(cli, "killed at \(point)")
        }
        let tmp = try FileManager.default.contentsOfDirectory(atPath: cli.store + "/tmp").filter { $0.hasPrefix("w-") || $0.hasPrefix("n-") }  // n-: killed before its lock
        #expect(!tmp.isEmpty, "the killed writers left no temporary directory to clean")
        let gc = try cli.json(["gc"])
        #expect(gc["removed_temporary"]?.arrayValue?.count == tmp.count, "\(gc)")
        try cli.run(Self.runArgs)
        try storeIsWhole(cli, "after the run completed")
    }

    /// gc with no grace period, over and over, while a run writes: the run completes at the
    /// uninterrupted head and the store verifies.
    @Test func gcRacingARunningPipeline() throws {
        let reference = try CLI("fault-gc-ref")
        let args = tinyQuickstartRun("q", steps: 4)
        try reference.run(args)
        let expected = try Store(at: reference.store).readRef(try RefName("runs/q/head"))
        let cli = try CLI("fault-gc")
        let p = try startBridge(args + ["--store", cli.store])
        var sweeps = 0
        while p.isRunning {
            let r = try runBridge(["gc", "--grace", "0", "--store", cli.store])
            #expect(r.status == 0, "gc: \(r.stderr)")
            sweeps += 1
        }
        p.waitUntilExit()   // also lets Foundation release the Process (LeakSanitizer saw it kept)
        #expect(p.terminationStatus == 0, "the run failed while gc swept")
        #expect(sweeps >= 2)
        #expect(try Store(at: cli.store).readRef(try RefName("runs/q/head")) == expected)
        try storeIsWhole(cli, "after \(sweeps) sweeps")
    }

    /// Two runs of different names, and two processes of the same run, writing one store at once.
    @Test func twoRunsWritingOneStore() throws {
        let reference = try CLI("fault-two-ref")
        try reference.run(Self.runArgs)
        let expected = try Store(at: reference.store).readRef(try RefName("runs/q/head"))
        let cli = try CLI("fault-two")
        let a = try startBridge(Self.runArgs + ["--store", cli.store])
        let b = try startBridge(Self.runArgs.map { $0 == "q" ? "other" : $0 } + ["--store", cli.store])
        let c = try runBridge(Self.runArgs + ["--store", cli.store])
        for p in [a, b] { p.waitUntilExit() }
        #expect(b.terminationStatus == 0, "run other exited \(b.terminationStatus)")
        // of two processes of run q, each finished the run or was refused cleanly
        #expect(a.terminationStatus == 0 || a.terminationStatus == 1, "exit code \(a.terminationStatus)")
        #expect(c.status == 0 || (c.status == 1 && c.stderr.hasPrefix("error: ")), "exit code \(c.status): \(c.stderr)")
        #expect(a.terminationStatus == 0 || c.status == 0, "neither process of run q finished")
        let store = try Store(at: cli.store)
        #expect(try store.readRef(try RefName("runs/q/head")) == expected)
        #expect(try store.readRef(try RefName("runs/other/head")) != nil)
        try cli.run(Self.runArgs)
        #expect(try store.readRef(try RefName("runs/q/head")) == expected)
        try storeIsWhole(cli, "after both runs")
    }
}
