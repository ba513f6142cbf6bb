// kill -9 at every kind of moment of an import (deterministic crash points) leaves no visible partial object, manifest or ref and
// the previous state intact; gc then removes the dead writer's leftovers. Two processes importing
// into one store at once both succeed.

import Foundation
import Testing
import TestSupport
import ShardStore

@Suite(.serialized) struct CrashAndConcurrencyTests {
    @Test func killDuringImportLeavesTheStoreConsistent() throws {
        let cli = try CLI("cli-crash")
        // The previous state: a committed set that must survive every crash untouched.
        let basePath = cli.scratch.file("base.safetensors")
        try writeSafetensors(basePath, count: 3, elements: 5000, seed: 77)
        let base = try cli.json(["ckpt", "import", basePath, "--name", "base"])["id"]!.stringValue!

        // The victim: 16 tensors of 256 KiB.
        let victim = cli.scratch.file("victim.safetensors")
        try writeSafetensors(victim, count: 16, elements: 64 * 1024, seed: 3)
        // Its id, from an import into a separate store.
        let reference = try CLI("cli-crash-ref")
        let expected = try reference.json(["ckpt", "import", victim, "--name", "v"])["id"]!.stringValue!

        // Crash points: the process kills itself before its N-th mutating file-system operation
        // (BRIDGE_CRASH_AFTER_WRITES), N growing by half each round until the import completes, then
        // points spread evenly below that bound: deterministic, whatever the machine's speed.
        var killed = 0, leftovers = 0, completedAt: Int?
        var points: [Int] = []
        var n = 1.0
        func crash(at point: Int, round: Int) throws -> Bool {
            let p = try startBridge(["ckpt", "import", victim, "--name", "victim", "--store", cli.store],
                                    environment: ["BRIDGE_CRASH_AFTER_WRITES": String(point)])
            p.waitUntilExit()
            let died = p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL
            #expect(died || p.terminationStatus == 0, "crash point \(point): exited \(p.terminationStatus)")
            if died { killed += 1 }

            let store = try Store(at: cli.store)
            #expect(try allObjectsAreWhole(cli.store), "crash point \(point): a partial object is visible")
            #expect(try store.readRef(try RefName("models/base"))?.hex == base)
            let victimRef = try store.readRef(try RefName("models/victim"))
            #expect(victimRef == nil || victimRef?.hex == expected, "crash point \(point): ref points at \(String(describing: victimRef))")
            #expect(died || victimRef?.hex == expected, "crash point \(point): a completed import left no ref")
            if victimRef != nil { try store.deleteRef(try RefName("models/victim")) }
            if try !FileManager.default.contentsOfDirectory(atPath: cli.store + "/tmp").isEmpty { leftovers += 1 }
            // Delete the objects of completed imports too, so every round starts from the same state.
            _ = try store.gc(dryRun: false, graceSeconds: 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: cli.store + "/tmp").isEmpty, "crash point \(point): gc left temporary files")
            #expect(try cli.json(["ckpt", "verify", "base"])["ok"] == true)
            return died
        }
        for round in 0..<40 {
            let point = Int(n.rounded())
            points.append(point)
            if try !crash(at: point, round: round) { completedAt = point; break }
            n = max(n * 1.5, n + 1)
        }
        let bound = try #require(completedAt, "the import never completed; crash points \(points)")
        for k in 1..<6 { _ = try crash(at: bound * k / 6 + 1, round: points.count + k) }
        #expect(killed >= 12, "only \(killed) crash points fell inside the import (points \(points))")
        #expect(leftovers >= 1, "no crash left temporary files behind, so gc's cleanup went untested")

        // The import then completes and gives the same set as an uninterrupted one.
        let done = try cli.json(["ckpt", "import", victim, "--name", "victim"])
        #expect(done["id"]?.stringValue == expected)
        #expect(try cli.json(["ckpt", "verify"])["ok"] == true)
    }

    @Test func twoProcessesImportIntoOneStoreAtOnce() throws {
        let cli = try CLI("cli-concurrent")
        let a = cli.scratch.file("a.safetensors"), b = cli.scratch.file("b.safetensors")
        // Half the tensors are shared, so both writers race to create the same objects.
        try writeSafetensors(a, count: 16, elements: 64 * 1024, seed: 1)
        try writeSafetensors(b, count: 16, elements: 64 * 1024, seed: 1, override: Dictionary(uniqueKeysWithValues: (8..<16).map { ($0, UInt64(500 + $0)) }))
        for round in 0..<3 {
            let pa = try startBridge(["ckpt", "import", a, "--name", "a\(round)", "--store", cli.store])
            let pb = try startBridge(["ckpt", "import", b, "--name", "b\(round)", "--store", cli.store])
            let pc = try startBridge(["ckpt", "import", a, "--name", "c\(round)", "--store", cli.store])
            for p in [pa, pb, pc] { p.waitUntilExit() }
            #expect([pa, pb, pc].allSatisfy { $0.terminationStatus == 0 })
        }
        let verify = try cli.json(["ckpt", "verify"])
        #expect(verify["ok"] == true)
        #expect(try cli.json(["ckpt", "ls"]).arrayValue?.count == 9)
        #expect(try cli.json(["store", "stats"])["objects"]?.intValue == 24 + 2)
    }

    /// Exports go through the store's write funnel: killed before each of its file-system
    /// operations in turn, `ckpt export` over an existing file leaves that file whole — the old
    /// bytes or the whole new export, never a mix — until the run that completes.
    @Test func killDuringExportLeavesTheOldFileOrTheNewOne() throws {
        let cli = try CLI("cli-export-crash")
        let a = cli.scratch.file("a.safetensors"), b = cli.scratch.file("b.safetensors")
        try writeSafetensors(a, count: 4, elements: 64 * 1024, seed: 1)
        try writeSafetensors(b, count: 4, elements: 64 * 1024, seed: 2)
        try cli.run(["ckpt", "import", b, "--name", "b"])
        let target = cli.scratch.file("out.safetensors")
        try cli.run(["ckpt", "export", "b", target])
        let new = try Data(contentsOf: URL(fileURLWithPath: target))
        let old = try Data(contentsOf: URL(fileURLWithPath: a))
        var point = 1, completed = false, killed = 0
        while !completed && point < 200 {
            try old.write(to: URL(fileURLWithPath: target))
            let p = try startBridge(["ckpt", "export", "b", target, "--store", cli.store], environment: ["BRIDGE_CRASH_AFTER_WRITES": String(point)])
            p.waitUntilExit()
            let died = p.terminationReason == .uncaughtSignal && p.terminationStatus == SIGKILL
            #expect(died || p.terminationStatus == 0, "crash point \(point): exited \(p.terminationStatus)")
            let now = try Data(contentsOf: URL(fileURLWithPath: target))
            #expect(now == old || now == new, "crash point \(point): the target is neither the old file nor the new one")
            if died { killed += 1 } else { completed = true; #expect(now == new) }
            point += 1
        }
        #expect(completed && killed >= 3, "killed \(killed) times")
    }
}
