// `bridge bench codecs --run RUN`: what the store's codecs do to a run that kept every step
// (schedule.keep_every: 1). Per part (θ, θ̂, w and their optimizer states; tokenizer tensors left
// out): plain copies (the logical bytes of the distinct objects), bytes on disk in this store, one
// safetensors file per step (per part, summed) and those files under `zstd -3`; then on the last step's θ: shuffle-lz4
// against raw, single-core decode speed of shuffle-lz4 and of the deltas (delta-sub), and the time to write the
// step's θ as plain copies and as deltas. tools/bench_codecs.sh runs it on both store policies.

import ArgumentParser
import Checkpoint
import Foundation
import ShardStore
import Tensors

struct BenchCodecs: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "codecs", abstract: "Storage of a run's trajectory per codec and part, against safetensors and zstd -3 (use a release build).")

    @OptionGroup var storeOptions: StoreOptions
    @Option(name: .customLong("run"), help: "The run (its refs/runs/RUN/steps/K are read).") var runName: String?
    @Option(name: .customLong("tensor-mib"), parsing: .upToNextOption,
            help: "Instead of a run: decode speed on single fp32 tensors of these sizes (MiB), alone and as delta chains.") var tensorMib: [Int] = []
    @Option(help: "With --tensor-mib: the relative size of one step's change of a weight (the deltas' content).") var relativeStep = 1e-3
    @Option(help: "Scratch directory (default: a new directory under $TMPDIR or /tmp, removed afterwards).") var scratch: String?
    @Option(name: .customLong("repeat"), help: "Repetitions of each timing; the best is reported.") var repetitions = 3
    @Flag(help: "Skip the safetensors and zstd files.") var noFiles = false
    @Flag(help: "Print a JSON object.") var json = false

    static let parts: [(role: String, path: [String])] = [
        ("theta", ["theta"]), ("theta_hat", ["theta_hat"]), ("lora", ["lora"]),
        ("theta_optimizer", ["optimizer", "theta"]), ("theta_hat_optimizer", ["optimizer", "theta_hat"]), ("lora_optimizer", ["optimizer", "lora"]),
    ]

    func run() throws {
        if !tensorMib.isEmpty { return try runSynthetic() }
        guard let runName else { throw UserError("give --run RUN (or --tensor-mib SIZES)") }
        let store = try storeOptions.open()
        let steps = try store.listRefs(under: "runs/\(runName)/steps").compactMap { r -> (Int, ObjectID)? in
            Int(r.name.path.split(separator: "/").last ?? "").map { ($0, r.id) }
        }.sorted { $0.0 < $1.0 }
        guard !steps.isEmpty else { throw UserError("run '\(runName)' keeps no step refs (run it with --set schedule.keep_every=1)") }
        let base = scratch ?? (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/bridge-codecs-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { if scratch == nil { try? FileManager.default.removeItem(atPath: base) } }

        // Sets of each step by part.
        var sets: [[String: TensorSet]] = []
        for (_, stateID) in steps {
            let state = try store.readJSON(stateID)
            var bySet: [String: TensorSet] = [:]
            for (role, path) in Self.parts {
                var v: JSONValue? = state
                for k in path { v = v?[k] }
                if let id = v?["id"]?.stringValue.flatMap(ObjectID.init(hex:)) { bySet[role] = try store.tensorSet(id) }
            }
            sets.append(bySet)
        }
        func weights(_ s: TensorSet) -> [TensorEntry] { s.tensors.filter { $0.dtype.isFloatingPoint } }  // not the tokenizer files

        // Plain copies and bytes on disk, per part and per codec.
        var result: [String: JSONValue] = ["run": .string(runName), "steps": .int(steps.count)]
        var partsJSON: [String: JSONValue] = [:]
        var codecs: [String: (objects: Int, logical: Int, disk: Int)] = [:]
        var seenAll = Set<ObjectID>()
        var thetaPair = (logical: 0, disk: 0)
        for (role, _) in Self.parts {
            var seen = Set<ObjectID>(), logical = 0, disk = 0
            for s in sets { for e in s[role].map(weights) ?? [] { for c in e.chunks where seen.insert(c.id).inserted {
                let h = try store.header(c.id)
                logical += h.logicalLength
                disk += h.fileLength
                if seenAll.insert(c.id).inserted {
                    codecs[h.codec.name, default: (0, 0, 0)].objects += 1
                    codecs[h.codec.name]!.logical += h.logicalLength
                    codecs[h.codec.name]!.disk += h.fileLength
                }
            } } }
            guard logical > 0 else { continue }
            if role == "theta" || role == "theta_hat" { thetaPair.logical += logical; thetaPair.disk += disk }
            partsJSON[role] = ["plain_bytes": .int(logical), "disk_bytes": .int(disk), "ratio": .double(Double(disk) / Double(logical))]
        }
        partsJSON["theta+theta_hat"] = ["plain_bytes": .int(thetaPair.logical), "disk_bytes": .int(thetaPair.disk),
                                        "ratio": .double(Double(thetaPair.disk) / Double(max(thetaPair.logical, 1)))]
        result["parts"] = .object(partsJSON)
        result["codecs"] = .object(codecs.mapValues { ["objects": .int($0.objects), "logical_bytes": .int($0.logical), "disk_bytes": .int($0.disk)] })

        // One safetensors file per step and part, and zstd -3 of it (the sums over parts stand for
        // one file per step holding every part: they differ by the other files' headers only).
        if !noFiles {
            var st: [String: Int] = [:], zst: [String: Int] = [:]
            for (k, s) in sets.enumerated() {
                for (role, _) in Self.parts {
                    let tensors = try (s[role].map(weights) ?? []).map { ($0.name, try store.loadTensor($0)) }
                    guard !tensors.isEmpty else { continue }
                    let path = base + "/step-\(k)-\(role).safetensors"
                    try SafetensorsWriter.write(tensors, to: path)
                    let z = Process()
                    z.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                    z.arguments = ["zstd", "-3", "-q", "-f", path, "-o", path + ".zst"]
                    try z.run()
                    z.waitUntilExit()
                    guard z.terminationStatus == 0 else { throw UserError("zstd -3 failed (is zstd installed?)") }
                    st[role, default: 0] += Posix_size(path)
                    zst[role, default: 0] += Posix_size(path + ".zst")
                    try? FileManager.default.removeItem(atPath: path)
                    try? FileManager.default.removeItem(atPath: path + ".zst")
                }
            }
            for (role, n) in st {
                guard case var .object(o)? = partsJSON[role] else { continue }
                o["safetensors_bytes"] = .int(n)
                o["safetensors_zstd3_bytes"] = .int(zst[role]!)
                partsJSON[role] = .object(o)
            }
            if case var .object(o)? = partsJSON["theta+theta_hat"] {
                o["safetensors_bytes"] = .int(st["theta", default: 0] + st["theta_hat", default: 0])
                o["safetensors_zstd3_bytes"] = .int(zst["theta", default: 0] + zst["theta_hat", default: 0])
                partsJSON["theta+theta_hat"] = .object(o)
            }
            result["parts"] = .object(partsJSON)
            result["safetensors_bytes"] = .int(st.values.reduce(0, +))
            result["safetensors_zstd3_bytes"] = .int(zst.values.reduce(0, +))
            result["theta+theta_hat_safetensors_bytes"] = .int(st["theta", default: 0] + st["theta_hat", default: 0])
            result["theta+theta_hat_safetensors_zstd3_bytes"] = .int(zst["theta", default: 0] + zst["theta_hat", default: 0])
        }

        // Codec speed and ratio on the last step's θ (lone fp32 weights), in scratch stores.
        guard let last = sets.last?["theta"] else { printResult(result); return }
        let previous = sets.count >= 2 ? sets[sets.count - 2]["theta"] : nil
        let items = try weights(last).map { (name: $0.name, tensor: try store.loadTensor($0)) }
        let prevItems = try previous.map { p in try weights(p).map { (name: $0.name, tensor: try store.loadTensor($0)) } }
        let bytes = items.reduce(0) { $0 + $1.tensor.byteCount }
        func time(_ body: () throws -> Void) rethrows -> Double {
            let t0 = DispatchTime.now().uptimeNanoseconds
            try body()
            return Double(DispatchTime.now().uptimeNanoseconds - t0) * 1e-9
        }
        var n = 0
        func freshStore(deltas: Bool, floats: CodecPolicy = .raw) throws -> Store {
            n += 1
            var c = StoreConfig()
            c.floatCompression = floats
            if !deltas { c.deltaMaxDepth = 0 }
            return try Store.create(at: base + "/store-\(n)", config: c)
        }
        // shuffle-lz4 size and decode speed
        let shuffled = try freshStore(deltas: false, floats: .shuffleLZ4)
        let shuffledSet = TensorSet(tensors: try shuffled.putTensors(items))
        let shuffleDisk = try shuffledSet.tensors.flatMap(\.chunks).reduce(0) { $0 + (try shuffled.header($1.id).fileLength) }
        var shuffleDecode = Double.infinity
        for _ in 0..<max(1, repetitions) {
            Store.clearDecodedCache()
            shuffleDecode = min(shuffleDecode, try cpuTime { for c in shuffledSet.tensors.flatMap(\.chunks) { _ = try shuffled.read(c.id, verify: false) } })
        }
        result["shuffle_lz4"] = ["raw_bytes": .int(bytes), "disk_bytes": .int(shuffleDisk), "times_smaller": .double(Double(bytes) / Double(shuffleDisk)),
                                 "decode_gb_per_s_one_core": .double(Double(bytes) / shuffleDecode / 1e9)]
        // writing the step's θ: plain copies against deltas (base present), fsync included
        if let prevItems {
            var plainTime = Double.infinity, deltaTime = Double.infinity, deltaDecode = Double.infinity, deltaDisk = 0
            for _ in 0..<max(1, repetitions) {
                let plain = try freshStore(deltas: false)
                sync()
                plainTime = min(plainTime, try time { _ = try plain.putTensors(items) })
                let delta = try freshStore(deltas: true)
                let prevSet = TensorSet(tensors: try delta.putTensors(prevItems))
                sync()
                var deltaSet = TensorSet(tensors: [])
                deltaTime = min(deltaTime, try time { deltaSet = TensorSet(tensors: try delta.putTensors(items, bases: prevSet)) })
                deltaDisk = try deltaSet.tensors.flatMap(\.chunks).reduce(0) { $0 + (try delta.header($1.id).fileLength) }
                Store.clearDecodedCache()
                for c in prevSet.tensors.flatMap(\.chunks) { _ = try delta.read(c.id) }  // bases mapped and hashed, as in a run
                deltaDecode = min(deltaDecode, try cpuTime { for c in deltaSet.tensors.flatMap(\.chunks) { _ = try delta.read(c.id, verify: false) } })
            }
            result["delta"] = ["codec": "delta-sub", "raw_bytes": .int(bytes), "disk_bytes": .int(deltaDisk), "ratio": .double(Double(deltaDisk) / Double(bytes)),
                                   "decode_gb_per_s_one_core": .double(Double(bytes) / deltaDecode / 1e9)]
            result["write_step_theta_s"] = ["plain": .double(plainTime), "delta": .double(deltaTime), "ratio": .double(deltaTime / plainTime)]
        }
        printResult(result)
    }

    /// Single-core encode and decode speed of shuffle-lz4 and of delta chains on single fp32 tensors:
    /// x₀ ~ N(0, 0.02²), xₖ = xₖ₋₁ + N(0, (relativeStep·0.02)²) rounded to fp32. Every read starts with
    /// the decode cache empty (the first link's base, a raw file, is mapped and hashed as in a
    /// run); "warm" reads the tail of a one-link chain with its base decoded in the cache. Times are
    /// the reading thread's CPU time.
    func runSynthetic() throws {
        let base = scratch ?? (ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp") + "/bridge-codecs-\(getpid())"
        try FileManager.default.createDirectory(atPath: base, withIntermediateDirectories: true)
        defer { if scratch == nil { try? FileManager.default.removeItem(atPath: base) } }
        var rows: [JSONValue] = []
        var rng = UInt64(0x9E37_79B9_7F4A_7C15)
        func gauss() -> Float {
            func u() -> Double {
                rng = rng &* 6364136223846793005 &+ 1442695040888963407
                return (Double(rng >> 11) + 0.5) / Double(1 << 53)
            }
            return Float((-2 * log(u())).squareRoot() * cos(2 * Double.pi * u()))
        }
        func best(_ body: () throws -> Void) rethrows -> Double {
            var b = Double.infinity
            for _ in 0..<max(1, repetitions) {
                Store.clearDecodedCache()
                b = min(b, try cpuTime(body))
            }
            return b
        }
        for (k, mib) in tensorMib.enumerated() {
            let n = (mib << 20) / 4
            var c = StoreConfig()
            c.deltaMaxDepth = 255
            c.deltaMaxChainBytes = Int.max
            c.deltaMinSaving = 0
            c.chunkBytes = max(c.chunkBytes, n * 4)
            let store = try Store.create(at: base + "/synthetic-\(k)", config: c)
            var x = [Float](repeating: 0, count: n)
            for i in 0..<n { x[i] = gauss() * 0.02 }
            let chainLength = 8, sigma = Float(0.02 * relativeStep)
            var ids: [ObjectID] = []
            var raw = 0.0, shuffle = 0.0, shuffleBytes = 0, deltaBytes = 0, rawPut = 0.0, shufflePut = 0.0, deltaPut = 0.0
            for step in 0...chainLength {
                if step > 0 { for i in 0..<n { x[i] += gauss() * sigma } }
                try x.withUnsafeBytes { b in
                    var put: Store.PutResult? = nil
                    let t = try cpuTime { put = try store.put(b, kind: .tensor, tag: DType.f32.code, codec: .raw, base: ids.last) }
                    let r = put!
                    if step == 0 { rawPut = t } else if step == 1 { deltaPut = t }
                    if step == 1 { deltaBytes = r.payloadBytes }
                    ids.append(r.id)
                    if step == 0 {
                        let s = try Store.create(at: base + "/synthetic-\(k)-shuffle", config: c)
                        var sid = ObjectID.zero
                        shufflePut = try cpuTime { sid = try s.put(b, kind: .tensor, tag: DType.f32.code, codec: .shuffleLZ4).id }
                        shuffleBytes = try s.header(sid).payloadLength
                        shuffle = try best { _ = try s.read(sid, verify: false) }
                        raw = try best { _ = try store.read(r.id, verify: true) }
                    }
                }
            }
            var row: [String: JSONValue] = [
                "mib": .int(mib), "raw_read_verified_gb_s": .double(Double(n * 4) / raw / 1e9),
                "shuffle_lz4_times_smaller": .double(Double(n * 4) / Double(shuffleBytes)),
                "shuffle_lz4_decode_gb_s": .double(Double(n * 4) / shuffle / 1e9),
                "delta_ratio": .double(Double(deltaBytes) / Double(n * 4)),
                // a put's CPU time (hash, encode, write; not the wait for fsync), once each
                "raw_put_gb_s": .double(Double(n * 4) / rawPut / 1e9),
                "shuffle_lz4_put_gb_s": .double(Double(n * 4) / shufflePut / 1e9),
                "delta_put_gb_s": .double(Double(n * 4) / deltaPut / 1e9),
            ]
            // warm: the base decoded in the cache (a run's next step), then the delta alone
            var warm = Double.infinity
            for _ in 0..<max(1, repetitions) {
                Store.clearDecodedCache()
                _ = try store.read(ids[1])
                warm = min(warm, try cpuTime { _ = try store.read(ids[2], verify: false) })
            }
            row["delta_warm_decode_gb_s"] = .double(Double(n * 4) / warm / 1e9)
            for depth in [1, 2, 4, 8] {
                let t = try best { _ = try store.read(ids[depth], verify: false) }
                row["chain_depth_\(depth)_cold_gb_s"] = .double(Double(n * 4) / t / 1e9)
            }
            rows.append(.object(row))
            FileHandle.standardError.write(Data((JSONValue.object(row).canonical + "\n").utf8))
        }
        printResult(["tensors": .array(rows), "relative_step": .double(relativeStep)])
    }

    func printResult(_ r: [String: JSONValue]) {
        if json { printJSON(.object(r)); return }
        print(JSONValue.object(r).pretty)
    }
}

/// CPU seconds of the calling thread spent in `body` (decode speeds are per core, and the
/// machine may be shared: wall time would count other processes' turns).
func cpuTime(_ body: () throws -> Void) rethrows -> Double {
    func now() -> Double {
        var t = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t)
        return Double(t.tv_sec) + Double(t.tv_nsec) * 1e-9
    }
    let t0 = now()
    try body()
    return now() - t0
}

private func Posix_size(_ path: String) -> Int {
    ((try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? NSNumber)?.intValue ?? 0
}
