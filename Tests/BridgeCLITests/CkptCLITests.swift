// The checkpoint commands as a user runs them: import/export/show/diff/verify/gc/stats output,
// exit codes, and bad input that must change nothing.

import Foundation
import Testing
import TestSupport
import ShardStore

@Suite struct CkptCLITests {
    let fixture = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("CheckpointTests/Fixtures/all_dtypes.safetensors").path

    @Test func importShowExportDiffAndStats() throws {
        let cli = try CLI("cli-basic")
        let imported = try cli.json(["ckpt", "import", fixture, "--name", "fx"])
        let id = try #require(imported["id"]?.stringValue)
        #expect(imported["tensors"]?.intValue == 17)
        let again = try cli.json(["ckpt", "import", fixture, "--name", "fx2"])
        #expect(again["id"]?.stringValue == id)
        #expect(again["new_objects"]?.intValue == 0)

        let show = try cli.json(["ckpt", "show", String(id.prefix(10))])
        #expect(show["id"]?.stringValue == id)
        #expect(show["total_tensors"]?.intValue == 17)
        let embed = try #require(show["tensors"]?.arrayValue?.first { $0["name"]?.stringValue == "model.embed_tokens.weight" })
        #expect(embed["shape"] == [11, 7] && embed["dtype"] == "f32" && embed["bytes"] == 308)

        let out = cli.scratch.file("out.safetensors")
        try cli.run(["ckpt", "export", "models/fx", out])
        let reimported = try cli.json(["ckpt", "import", out, "--name", "back"])
        #expect(reimported["id"]?.stringValue == id)

        let diff = try cli.json(["ckpt", "diff", "fx", "back"])
        #expect(diff["counts"]?["identical"]?.intValue == 17)
        #expect(diff["shared_bytes"]?.intValue == diff["bytes_a"]?.intValue)

        let ls = try cli.json(["ckpt", "ls"])
        #expect(ls.arrayValue?.map { $0["ref"]?.stringValue } == ["models/back", "models/fx", "models/fx2"])

        let stats = try cli.json(["store", "stats"])
        #expect(stats["objects"]?.intValue == 18)  // 17 tensors + 1 manifest
        #expect((stats["logical_bytes"]?.intValue ?? 0) > 0 && (stats["disk_bytes"]?.intValue ?? 0) > 0)
        #expect(stats["codecs"]?["raw"] != nil && stats["codecs"]?["lz4"] != nil)

        let verify = try cli.json(["ckpt", "verify"])
        #expect(verify["ok"] == true && verify["checked"]?.intValue == 18)

        // recorded in a run's journal: the file's digest is a parameter, not an object the store
        // should hold, so verify stays clean
        try cli.run(["ckpt", "import", fixture, "--name", "fx3", "--run", "imports"])
        let journaled = try cli.json(["ckpt", "verify"])
        #expect(journaled["ok"] == true && journaled["missing"]?.arrayValue?.isEmpty == true)
    }

    @Test func diffReportsChangedTensorsAndSharing() throws {
        let cli = try CLI("cli-diff")
        let a = cli.scratch.file("a.safetensors"), b = cli.scratch.file("b.safetensors")
        try writeSafetensors(a, count: 4, elements: 1000, seed: 1)
        try writeSafetensors(b, count: 4, elements: 1000, seed: 1, override: [2: 99])
        try cli.run(["ckpt", "import", a, "--name", "a"])
        try cli.run(["ckpt", "import", b, "--name", "b"])
        let d = try cli.json(["ckpt", "diff", "a", "b"])
        let tensors = try #require(d["tensors"]?.arrayValue)
        #expect(tensors.count == 4)
        let changed = tensors.filter { $0["status"] == "changed" }
        #expect(changed.count == 1 && changed[0]["name"] == "model.layers.2.mlp.up_proj.weight")
        for key in ["l2_diff", "rel_change", "max_abs_diff", "cosine"] { #expect(changed[0][key] != nil, "\(key)") }
        #expect(d["shared_bytes"]?.intValue == 3 * 4000)
    }

    @Test func verifyNamesTheRefAndTensorOfAFlippedByte() throws {
        let cli = try CLI("cli-verify")
        let imported = try cli.json(["ckpt", "import", fixture, "--name", "fx"])
        let show = try cli.json(["ckpt", "show", imported["id"]!.stringValue!])
        let entry = try #require(show["tensors"]?.arrayValue?.first { $0["name"] == "bf16.w" })
        let objectID = try #require(entry["ids"]?.arrayValue?.first?.stringValue)
        let path = cli.store + "/objects/" + objectID.prefix(2) + "/" + objectID
        chmod(path, 0o644)
        var data = try Data(contentsOf: URL(fileURLWithPath: path))
        data[data.count - 1] ^= 0x01
        try data.write(to: URL(fileURLWithPath: path))

        let report = try cli.json(["ckpt", "verify"], expect: 1)
        #expect(report["ok"] == false)
        let corrupt = try #require(report["corrupt"]?.arrayValue)
        #expect(corrupt.map { $0["id"]?.stringValue } == [objectID])
        let needs = corrupt[0]["needed_by"]?.arrayValue?.compactMap(\.stringValue).joined() ?? ""
        #expect(needs.contains("models/fx") && needs.contains("bf16.w"))
        _ = try cli.json(["ckpt", "verify", "fx"], expect: 1)

        // Any read that verifies refuses it, naming the object and the tensor; nothing is repaired.
        let export = try cli.run(["ckpt", "export", "fx", cli.scratch.file("x.safetensors")], expect: 1)
        #expect(export.stderr.contains(objectID) && export.stderr.contains("bf16.w"))
        #expect(!FileManager.default.fileExists(atPath: cli.scratch.file("x.safetensors")))
        #expect(try Data(contentsOf: URL(fileURLWithPath: path)) == data)
    }

    @Test func gcRemovesWhatNoRefReaches() throws {
        let cli = try CLI("cli-gc")
        let a = cli.scratch.file("a.safetensors")
        try writeSafetensors(a, count: 3, elements: 100, seed: 5)
        try cli.run(["ckpt", "import", a, "--name", "a"])
        try cli.run(["ckpt", "import", fixture, "--name", "fx"])
        let store = try Store(at: cli.store)
        try store.deleteRef(try RefName("models/a"))
        let dry = try cli.json(["gc", "--dry-run", "--grace", "0"])
        #expect(dry["removed"]?.arrayValue?.count == 4)
        #expect(try store.allObjectIDs().count == 22)
        let real = try cli.json(["gc", "--grace", "0"])
        #expect(real["removed"]?.arrayValue?.count == 4)
        #expect(try store.allObjectIDs().count == 18)
        #expect(try cli.json(["ckpt", "verify"])["ok"] == true)
    }

    /// Runs a command that must fail with exit 1, mention `words` on stderr, and change nothing.
    func expectUserError(_ cli: CLI, _ args: [String], mentioning words: [String], sourceLocation: SourceLocation = #_sourceLocation) throws {
        let before = snapshot(cli.store)
        let r = try cli.run(args, expect: 1, sourceLocation: sourceLocation)
        #expect(r.stderr.hasPrefix("error: ") || r.stderr.hasPrefix("Error: "), "\(r.stderr)", sourceLocation: sourceLocation)
        for w in words { #expect(r.stderr.contains(w), "stderr '\(r.stderr)' lacks '\(w)'", sourceLocation: sourceLocation) }
        #expect(snapshot(cli.store) == before, "the store changed", sourceLocation: sourceLocation)
    }

    @Test func badInputFailsCleanlyAndChangesNothing() throws {
        let cli = try CLI("cli-bad")
        try cli.run(["ckpt", "import", fixture, "--name", "fx"])
        // Lying and broken safetensors files.
        let good = try Data(contentsOf: URL(fileURLWithPath: fixture))
        let truncated = cli.scratch.file("truncated.safetensors")
        try good.prefix(good.count - 10).write(to: URL(fileURLWithPath: truncated))
        try expectUserError(cli, ["ckpt", "import", truncated, "--name", "t"], mentioning: ["truncated.safetensors"])
        var lying = good
        lying[0] = 0xFF; lying[1] = 0xFF; lying[2] = 0xFF
        let lyingPath = cli.scratch.file("lying.safetensors")
        try lying.write(to: URL(fileURLWithPath: lyingPath))
        try expectUserError(cli, ["ckpt", "import", lyingPath, "--name", "t"], mentioning: ["lying.safetensors", "header length"])
        // Unknown refs, short or ambiguous prefixes, invalid ref names.
        try expectUserError(cli, ["ckpt", "show", "nope"], mentioning: ["unknown ref", "nope"])
        try expectUserError(cli, ["ckpt", "show", "abc"], mentioning: ["unknown ref"])
        try expectUserError(cli, ["ckpt", "export", "missing", cli.scratch.file("o.safetensors")], mentioning: ["missing"])
        for bad in ["../escape", "/etc/passwd", "a//b", "x/", ".hidden"] {
            try expectUserError(cli, ["ckpt", "import", fixture, "--name", bad], mentioning: ["invalid ref name"])
        }
        try expectUserError(cli, ["ckpt", "diff", "fx", "../x"], mentioning: ["invalid ref name"])
        let dir = cli.store + "/objects/ee"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        for tail in ["0000000000000000000000", "1111111111111111111111"] {
            FileManager.default.createFile(atPath: dir + "/eeeeeeeeee" + tail, contents: Data())
        }
        try expectUserError(cli, ["ckpt", "show", "eeeeeeee"], mentioning: ["ambiguous", "eeeeeeee"])
        // A directory that is not a store.
        let notStore = cli.scratch.file("plain")
        try FileManager.default.createDirectory(atPath: notStore, withIntermediateDirectories: true)
        let r = try runBridge(["ckpt", "ls", "--store", notStore])
        #expect(r.status == 1 && r.stderr.contains("not a bridge store") && r.stderr.contains(notStore))
        #expect(try FileManager.default.contentsOfDirectory(atPath: notStore).isEmpty)
        let env = try runBridge(["store", "stats"], environment: ["BRIDGE_STORE": notStore])
        #expect(env.status == 1 && env.stderr.contains(notStore))
    }
}

@Suite struct LargeSetTests {
    /// safetensors → store → safetensors for a set above 1 GiB: the export is byte-identical to the
    /// source (which bridge's writer made in the same canonical layout), tensor data and all.
    @Test func roundTripOfASetAboveOneGiB() throws {
        let cli = try CLI("cli-large")
        let attributes = try FileManager.default.attributesOfFileSystem(forPath: cli.scratch.path)
        let free = (attributes[.systemFreeSize] as? NSNumber)?.int64Value ?? 0
        #expect(free > 4 << 30, "this test needs 4 GiB free under \(cli.scratch.path); it has \(free >> 20) MiB")
        let source = cli.scratch.file("big.safetensors")
        let generated = try runBridge(["bench", "store", "--generate-only", "--size-mib", "1100", "--write-file", source])
        #expect(generated.status == 0, "\(generated.stderr)")
        let size = try #require(try FileManager.default.attributesOfItem(atPath: source)[.size] as? Int)
        #expect(size > 1 << 30)
        let imported = try cli.json(["ckpt", "import", source, "--name", "big"])
        #expect((imported["bytes"]?.intValue ?? 0) > 1 << 30)
        let out = cli.scratch.file("out.safetensors")
        try cli.run(["ckpt", "export", "big", out])
        let a = try Data(contentsOf: URL(fileURLWithPath: source), options: .alwaysMapped)
        let b = try Data(contentsOf: URL(fileURLWithPath: out), options: .alwaysMapped)
        #expect(a.count == b.count)
        #expect(a == b)
        try FileManager.default.removeItem(atPath: out)
        #expect(try cli.json(["ckpt", "verify", "big"])["ok"] == true)
    }
}
