// `bridge bench store`: throughput of the store on a ~1 GiB tensor set (import, re-import,
// export, opening a set with and without verification, manifest-only show, raw hashing).
// tools/bench_store.sh runs it beside Python safetensors (tools/bench_safetensors.py) on the
// same file and prints the ratios.

import ArgumentParser
import Checkpoint
import Foundation
import ShardStore
import Tensors

struct BenchStore: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Store throughput on a ~1 GiB tensor set (use a release build).")

    @Option(help: "Size of the generated set in MiB (ignored with --file).") var sizeMib = 1024
    @Option(help: "Benchmark this safetensors file instead of a generated one.") var file: String?
    @Option(help: "Write the generated safetensors file here (and keep it) so peers can read the same tensors.") var writeFile: String?
    @Option(help: "Scratch directory (default: a new directory under $TMPDIR or /tmp, removed afterwards).") var scratch: String?
    @Option(name: .customLong("repeat"), help: "Repetitions of each measurement; the best is reported.") var repetitions: Int = 3
    @Flag(help: "Only write the generated file (with --write-file) and stop.") var generateOnly = false
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        if generateOnly {
            guard let writeFile else { throw UserError("--generate-only needs --write-file") }
            try Self.writeBenchFile(to: writeFile, mib: sizeMib)
            return
        }
        let base = scratch ?? (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/bridge-bench-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { if scratch == nil { try? FileManager.default.removeItem(atPath: base) } }

        let source: String
        if let file {
            source = file
        } else {
            source = writeFile ?? base + "/bench.safetensors"
            let t0 = Date()
            try Self.writeBenchFile(to: source, mib: sizeMib)
            log("generated \(source) in \(String(format: "%.2f", Date().timeIntervalSince(t0))) s")
        }
        let file = try SafetensorsFile(path: source)
        let bytes = file.entries.reduce(0) { $0 + $1.byteCount }
        log("set: \(file.entries.count) tensors, \(formatBytes(bytes))")

        func best(_ label: String, prepare: () throws -> Void = {}, _ body: () throws -> Void) throws -> Double {
            var times: [Double] = []
            for _ in 0..<max(1, repetitions) {
                try prepare()
                sync()  // start each repetition without the previous one's dirty pages in flight
                let t0 = DispatchTime.now().uptimeNanoseconds
                try body()
                times.append(Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9)
            }
            let b = times.min()!
            log(label.padding(toLength: 30, withPad: " ", startingAt: 0) + String(format: "%9.4f s  %8.2f GB/s", b, Double(bytes) / b / 1e9))
            return b
        }

        // Hashing alone: XXH3-128 over every tensor's bytes, one core.
        let hash = try best("hash (xxh3-128, 1 core)") {
            for e in file.entries { _ = file.withBytes(of: e) { ObjectHasher.id(of: $0, kind: .tensor) } }
        }
        // Import into a fresh store each time (hash, write, fsync, link).
        var setID: ObjectID?
        var storeRoot = ""
        let importTime = try best("import (fresh store)", prepare: {
            if !storeRoot.isEmpty { try FileManager.default.removeItem(atPath: storeRoot) }
        }) {
            storeRoot = base + "/store-\(UUID().uuidString)"
            let store = try Store.create(at: storeRoot)
            setID = try store.importSafetensors(path: source).id
        }
        let store = try Store(at: storeRoot)
        let reimport = try best("re-import (all deduplicated)") { _ = try store.importSafetensors(path: source) }
        let out = base + "/export.safetensors"
        let export = try best("export (verified)", prepare: { try? FileManager.default.removeItem(atPath: out) }) {
            try store.exportSafetensors(try store.tensorSet(setID!), to: out)
        }
        let identical = try Self.sameTensorData(source, out)
        log("round trip byte-identical: \(identical)")
        let open = try best("open (mmap, no verify)") {
            let set = try store.tensorSet(setID!)
            _ = try set.tensors.map { try store.loadTensor($0, verify: false) }
        }
        let openVerified = try best("open + verify every byte") {
            let set = try store.tensorSet(setID!)
            _ = try set.tensors.map { try store.loadTensor($0, verify: true) }
        }
        let show = try best("show (manifest only)") { _ = try store.tensorSet(try store.resolve(setID!.hex).id) }
        let stats = try store.stats()

        if json {
            printJSON([
                "tensors": .int(file.entries.count), "bytes": .int(bytes),
                "hash_s": .double(hash), "hash_gb_s": .double(Double(bytes) / hash / 1e9),
                "import_s": .double(importTime), "import_gb_s": .double(Double(bytes) / importTime / 1e9),
                "reimport_s": .double(reimport), "export_s": .double(export), "export_gb_s": .double(Double(bytes) / export / 1e9),
                "open_s": .double(open), "open_verified_s": .double(openVerified), "show_s": .double(show),
                "round_trip_identical": .bool(identical), "store_disk_bytes": .int(stats.diskBytes),
                "blas_kernel": .string(try BLAS.kernel().summary),
            ])
        }
        if !identical { throw UserError("export differs from the source file's tensor data") }
    }

    func log(_ s: String) {
        FileHandle.standardError.write(Data((s + "\n").utf8))
    }

    /// A Llama-like layout of f32 tensors with random values, about `mib` MiB in all.
    static func writeBenchFile(to path: String, mib: Int) throws {
        let hidden = mib >= 512 ? 1024 : 512, inter = hidden * 11 / 4, vocab = min(32000, max(1000, mib * 30))
        var shapes: [(String, [Int])] = [("model.embed_tokens.weight", [vocab, hidden]), ("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]
        var total = 2 * vocab * hidden * 4
        var layer = 0
        while total < mib << 20 {
            let p = "model.layers.\(layer)."
            for (n, s) in [("self_attn.q_proj.weight", [hidden, hidden]), ("self_attn.k_proj.weight", [hidden / 4, hidden]),
                           ("self_attn.v_proj.weight", [hidden / 4, hidden]), ("self_attn.o_proj.weight", [hidden, hidden]),
                           ("mlp.gate_proj.weight", [inter, hidden]), ("mlp.up_proj.weight", [inter, hidden]),
                           ("mlp.down_proj.weight", [hidden, inter]), ("input_layernorm.weight", [hidden]),
                           ("post_attention_layernorm.weight", [hidden])] {
                shapes.append((p + n, s))
                total += s.reduce(1, *) * 4
            }
            layer += 1
        }
        let tensors: [(String, Tensor)] = shapes.enumerated().map { i, item in
            let n = item.1.reduce(1, *)
            // Copies of a random 64 Ki-element block, each copy's first element made unique, so every
            // tensor (and chunk) is distinct while generation runs at memory speed even in debug builds.
            let buffer = ByteBuffer(zeroedCount: n * 4)
            buffer.withUnsafeMutableBytes { raw in
                let f = raw.bindMemory(to: Float.self)
                let blockCount = 1 << 16
                var state = UInt64(i + 1) &* 0x9E37_79B9_7F4A_7C15
                for k in 0..<min(n, blockCount) {
                    state = state &* 6364136223846793005 &+ 1442695040888963407
                    f[k] = Float(Int32(truncatingIfNeeded: state >> 32)) * (0.02 / Float(Int32.max))
                }
                var start = blockCount
                while start < n {
                    let m = min(blockCount, n - start)
                    (raw.baseAddress! + 4 * start).copyMemory(from: raw.baseAddress!, byteCount: 4 * m)
                    f[start] = Float(i) + Float(start / blockCount) * 1e-3
                    start += m
                }
            }
            return (item.0, Tensor(dtype: .f32, shape: item.1, buffer: buffer))
        }
        try SafetensorsWriter.write(tensors, metadata: ["format": "pt"], to: path)
    }

    /// Same tensor names, dtypes, shapes and bytes in both files.
    static func sameTensorData(_ a: String, _ b: String) throws -> Bool {
        let fa = try SafetensorsFile(path: a), fb = try SafetensorsFile(path: b)
        guard Set(fa.names) == Set(fb.names) else { return false }
        for e in fa.entries {
            let g = try fb.entry(e.name)
            guard e.dtype == g.dtype, e.shape == g.shape else { return false }
            let same = fa.withBytes(of: e) { x in fb.withBytes(of: g) { y in x.count == y.count && (x.count == 0 || memcmp(x.baseAddress!, y.baseAddress!, x.count) == 0) } }
            if !same { return false }
        }
        return true
    }
}
