// kill -9 at random moments of an import leaves no visible partial object, manifest or ref and
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

        // The victim: 64 tensors of 2 MiB, long enough to be killed mid-write.
        let victim = cli.scratch.file("victim.safetensors")
        try writeSafetensors(victim, count: 64, elements: 512 * 1024, seed: 3)
        // Its id, from an import into a separate store.
        let reference = try CLI("cli-crash-ref")
        let expected = try reference.json(["ckpt", "import", victim, "--name", "v"])["id"]!.stringValue!

        var start = Date()
        _ = try cli.run(["store", "stats"])
        let probe = Date().timeIntervalSince(start)
        start = Date()
        let timing = try CLI("cli-crash-time")
        try timing.run(["ckpt", "import", victim, "--name", "v"])
        let duration = max(Date().timeIntervalSince(start) - probe, 0.05)

        var killedMidway = 0, leftovers = 0
        for round in 0..<12 {
            let p = try startBridge(["ckpt", "import", victim, "--name", "victim", "--store", cli.store])
            // Spread the kills over the whole import, from process start to just past its end.
            let delay = probe * 0.5 + duration * Double(round) / 10
            usleep(useconds_t(delay * 1_000_000))
            kill(p.processIdentifier, SIGKILL)
            p.waitUntilExit()
            if p.terminationReason == .uncaughtSignal { killedMidway += 1 }

            let store = try Store(at: cli.store)
            #expect(try allObjectsAreWhole(cli.store), "round \(round): a partial object is visible")
            #expect(try store.readRef(try RefName("models/base"))?.hex == base)
            let victimRef = try store.readRef(try RefName("models/victim"))
            #expect(victimRef == nil || victimRef?.hex == expected, "round \(round): ref points at \(String(describing: victimRef))")
            if victimRef != nil { try store.deleteRef(try RefName("models/victim")) }
            if try !FileManager.default.contentsOfDirectory(atPath: cli.store + "/tmp").isEmpty { leftovers += 1 }
            // Delete the objects of completed imports too, so every round starts from the same state.
            _ = try store.gc(dryRun: false, graceSeconds: 0)
            #expect(try FileManager.default.contentsOfDirectory(atPath: cli.store + "/tmp").isEmpty, "round \(round): gc left temporary files")
            #expect(try cli.json(["ckpt", "verify", "base"])["ok"] == true)
        }
        #expect(killedMidway >= 3, "only \(killedMidway) kills landed during the import")
        #expect(leftovers >= 1, "no kill left temporary files behind, so gc's cleanup went untested")

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
}
