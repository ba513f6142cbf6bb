// `bridge ckpt ...`: import, export, list, show, diff and verify tensor sets.

import ArgumentParser
import Checkpoint
import Foundation
import Pipeline
import ShardStore
import Tensors

struct Ckpt: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "ckpt", abstract: "Checkpoints (tensor sets): import, export, inspect, diff, verify.",
        subcommands: [Import.self, Export.self, List.self, Show.self, Diff.self, Verify.self])

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Import a safetensors file as a tensor set; ref models/NAME.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "A .safetensors file.") var file: String
        @Option(help: "Name of the ref to create or move (models/NAME).") var name: String
        @Option(name: .customLong("run"), help: "Also record the import as a stage in this run's journal.") var runName: String?
        @Flag(help: "Print a JSON object.") var json = false

        func run() throws {
            let ref = try RefName.model(name)
            if let runName { try validateRunName(runName) }
            let store = try storeOptions.open()
            let before = try store.stats().objects
            let start = Date()
            // through the import stage: journaled in run `--run` when given (the same file again is read back)
            let stage = try ImportStage(.safetensors(file), store: store)
            let outcome = try runName.map { try StageRunner(store: store, run: $0).execute(stage) }
            let set = try store.tensorSet(try (outcome?.result ?? stage.run(in: store)).id("set"))
            try store.updateRef(ref, to: set.id!)
            let seconds = Date().timeIntervalSince(start)
            let added = try store.stats().objects - before
            if json {
                printJSON(["id": .string(set.id!.hex), "ref": .string(ref.path), "tensors": .int(set.tensors.count),
                           "bytes": .int(set.byteCount), "new_objects": .int(added), "seconds": .double(seconds)])
            } else {
                print(set.id!.hex)
                FileHandle.standardError.write(Data("imported \(set.tensors.count) tensors (\(formatBytes(set.byteCount))) as \(ref) in \(String(format: "%.2f", seconds)) s; \(added) new objects\n".utf8))
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Write a tensor set as a safetensors file.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "A ref name, an object id or a unique id prefix (8+ hex digits).") var ref: String
        @Argument(help: "Output .safetensors path.") var out: String

        func run() throws {
            let store = try storeOptions.open()
            let set = try store.tensorSet(try store.resolve(ref).id)
            try store.exportSafetensors(set, to: out)
            FileHandle.standardError.write(Data("wrote \(set.tensors.count) tensors (\(formatBytes(set.byteCount))) to \(out)\n".utf8))
        }
    }

    struct List: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "List refs and what they point at.")
        @OptionGroup var storeOptions: StoreOptions
        @Flag(help: "Print a JSON array.") var json = false

        func run() throws {
            let store = try storeOptions.open()
            var rows: [JSONValue] = []
            for (name, id) in try store.listRefs() {
                var row: [String: JSONValue] = ["ref": .string(name.path), "id": .string(id.hex)]
                if let set = try? store.tensorSet(id) {
                    row["kind"] = "tensor-set"
                    row["tensors"] = .int(set.tensors.count)
                    row["bytes"] = .int(set.byteCount)
                    row["parameters"] = .int(set.elementCount)
                } else if let json = try? store.readJSON(id), let format = json["format"]?.stringValue {
                    row["kind"] = .string(format)
                } else {
                    row["kind"] = .string((try? store.header(id).kind.name) ?? "missing")
                }
                rows.append(.object(row))
            }
            if json { printJSON(.array(rows)); return }
            if rows.isEmpty { print("no refs"); return }
            for r in rows {
                let detail = r["tensors"].map { "\($0.intValue!) tensors, \(formatBytes(r["bytes"]!.intValue!))" } ?? r["kind"]!.stringValue!
                print("\(r["id"]!.stringValue!.prefix(12))  \(r["ref"]!.stringValue!)  (\(detail))")
            }
        }
    }

    struct Show: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Tensors of a set (reads only the manifest).")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "A ref name, an object id or a unique id prefix (8+ hex digits).") var ref: String
        @Flag(help: "Print a JSON object.") var json = false

        func run() throws {
            let store = try storeOptions.open()
            let resolved = try store.resolve(ref)
            if store.isRunState(resolved.id) {
                let state = try store.runState(resolved.id)
                if json { printJSON(["id": .string(resolved.id.hex), "ref": resolved.ref.map { .string($0.path) } ?? .null, "run_state": state.json]); return }
                print("run state \(resolved.id.hex)" + (resolved.ref.map { "  (\($0))" } ?? ""))
                print("step       \(state.step)   method \(state.method.rawValue)   seed \(state.seed)")
                for (role, id) in [("theta", state.theta), ("theta_hat", state.thetaHat), ("lora", state.lora), ("reference", state.reference)] {
                    guard let id else { continue }
                    print("\(role.padding(toLength: 10, withPad: " ", startingAt: 0)) \(id.hex)" + (role == "theta_hat" && id == state.theta ? "  (= theta)" : ""))
                }
                for part in RunState.parts { if let id = state.optimizers[part] { print("optimizer.\(part)  \(id.hex)") } }
                print("cursors    " + state.cursors.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
                print("config     \(state.config.hex)")
                if let p = state.parent { print("parent     \(p.hex)") }
                for (k, v) in state.metrics.sorted(by: { $0.key < $1.key }) { print("  \(k) = \(v)") }
                return
            }
            let set = try store.tensorSet(resolved.id)
            if json {
                printJSON([
                    "id": .string(resolved.id.hex),
                    "ref": resolved.ref.map { .string($0.path) } ?? .null,
                    "parent": set.parent.map { .string($0.hex) } ?? .null,
                    "metadata": .object(set.metadata),
                    "tensors": .array(set.tensors.map { t in
                        ["name": .string(t.name), "dtype": .string(t.dtype.rawValue), "shape": .array(t.shape.map { .int($0) }),
                         "bytes": .int(t.byteCount), "ids": .array(t.chunks.map { .string($0.id.hex) })]
                    }),
                    "total_tensors": .int(set.tensors.count),
                    "total_bytes": .int(set.byteCount),
                    "total_parameters": .int(set.elementCount),
                ])
                return
            }
            print("tensor set \(resolved.id.hex)" + (resolved.ref.map { "  (\($0))" } ?? ""))
            if let parent = set.parent { print("parent     \(parent.hex)") }
            let width = min(60, set.tensors.map(\.name.count).max() ?? 4)
            for t in set.tensors {
                let shape = "[" + t.shape.map(String.init).joined(separator: ", ") + "]"
                let ids = t.chunks.count == 1 ? String(t.chunks[0].id.hex.prefix(12)) : "\(t.chunks.count) chunks"
                print("\(t.name.padding(toLength: width, withPad: " ", startingAt: 0))  \(t.dtype.rawValue.padding(toLength: 5, withPad: " ", startingAt: 0)) \(shape.padding(toLength: 16, withPad: " ", startingAt: 0)) \(ids)  \(formatBytes(t.byteCount))")
            }
            print("\(set.tensors.count) tensors, \(set.elementCount) elements, \(formatBytes(set.byteCount))")
        }
    }

    struct Diff: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Compare two tensor sets tensor by tensor.")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "The first set (ref, id or id prefix).") var a: String
        @Argument(help: "The second set.") var b: String
        @Flag(help: "Print a JSON object.") var json = false
        @Flag(name: .long, help: "Text mode: list identical tensors too.") var all = false

        func run() throws {
            let store = try storeOptions.open()
            let ra = try store.resolve(a), rb = try store.resolve(b)
            let d = try store.diff(try store.tensorSet(ra.id), try store.tensorSet(rb.id))
            let counts = Dictionary(grouping: d.tensors, by: \.status).mapValues(\.count)
            if json {
                printJSON([
                    "a": .string(ra.id.hex), "b": .string(rb.id.hex),
                    "shared_bytes": .int(d.sharedBytes), "bytes_a": .int(d.bytesA), "bytes_b": .int(d.bytesB),
                    "counts": .object(Dictionary(uniqueKeysWithValues: [TensorDelta.Status.identical, .changed, .onlyA, .onlyB].map { ($0.rawValue, JSONValue.int(counts[$0] ?? 0)) })),
                    "tensors": .array(d.tensors.map(\.json)),
                ])
                return
            }
            for t in d.tensors where all || t.status != .identical {
                switch t.status {
                case .identical: print("  identical  \(t.name)")
                case .onlyA: print("  only in A  \(t.name)")
                case .onlyB: print("  only in B  \(t.name)")
                case .changed:
                    if let rel = t.relChange {
                        print(String(format: "  changed    %@  rel %.3e  l2 %.3e  max %.3e  cos %.6f", t.name, rel, t.l2Diff ?? 0, t.maxAbsDiff ?? 0, t.cosine ?? .nan))
                    } else {
                        print("  changed    \(t.name)  \(t.note ?? "\(t.differingElements ?? 0) elements differ")")
                    }
                }
            }
            print("\(counts[.identical] ?? 0) identical, \(counts[.changed] ?? 0) changed, \(counts[.onlyA] ?? 0) only in A, \(counts[.onlyB] ?? 0) only in B; shared \(formatBytes(d.sharedBytes)) of \(formatBytes(d.bytesA)) / \(formatBytes(d.bytesB))")
        }
    }

    struct Verify: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Re-hash objects and report corrupt or missing ones with what needs them (exit 1 if any).")
        @OptionGroup var storeOptions: StoreOptions
        @Argument(help: "Verify only what this ref (or id) reaches; default: the whole store.") var ref: String?
        @Flag(help: "Print a JSON object.") var json = false

        func run() throws {
            let store = try storeOptions.open()
            var refs: [RefName]? = nil
            if let ref {
                let r = try store.resolve(ref)
                if let name = r.ref { refs = [name] } else {
                    // A bare id: verify what it reaches through a temporary root.
                    refs = []
                    let report = try store.verify(roots: [(label: "object \(r.id.hex)", id: r.id)])
                    try finish(report)
                    return
                }
            }
            try finish(try store.verify(refs: refs))
        }

        func finish(_ report: VerifyReport) throws {
            if json {
                func problems(_ list: [ObjectProblem]) -> JSONValue {
                    .array(list.map { ["id": .string($0.id.hex), "reason": .string($0.reason), "needed_by": .array($0.neededBy.map { .string($0) })] })
                }
                printJSON(["checked": .int(report.checked), "corrupt": problems(report.corrupt), "missing": problems(report.missing), "ok": .bool(report.ok)])
            } else {
                for p in report.corrupt {
                    print("corrupt \(p.id.hex): \(p.reason)")
                    for n in p.neededBy { print("  needed by \(n)") }
                }
                for p in report.missing {
                    print("missing \(p.id.hex)")
                    for n in p.neededBy { print("  needed by \(n)") }
                }
                print("checked \(report.checked) objects: \(report.corrupt.count) corrupt, \(report.missing.count) missing")
            }
            if !report.ok { throw ExitCode(1) }
        }
    }
}

extension TensorDelta {
    var json: JSONValue {
        var o: [String: JSONValue] = ["name": .string(name), "status": .string(status.rawValue), "bytes": .int(bytes)]
        if let dtype { o["dtype"] = .string(dtype) }
        if let shapeA { o["shape_a"] = .array(shapeA.map { .int($0) }) }
        if let shapeB { o["shape_b"] = .array(shapeB.map { .int($0) }) }
        if let l2Diff { o["l2_diff"] = .double(l2Diff) }
        if let relChange { o["rel_change"] = .double(relChange) }
        if let maxAbsDiff { o["max_abs_diff"] = .double(maxAbsDiff) }
        if let cosine { o["cosine"] = .double(cosine) }
        if let differingElements { o["differing_elements"] = .int(differingElements) }
        if let note { o["note"] = .string(note) }
        return .object(o)
    }
}
