// `bridge doctor`: what this machine is and whether bridge runs at full speed on it: the CPU and
// its features, the OpenBLAS kernel in use (and whether bridge corrected OpenBLAS's choice),
// threads, a short sgemm measurement against the cores' multiply-add peak, memory, and the store.

import ArgumentParser
import Foundation
import ShardStore
import Tensors

struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "CPU features, the BLAS kernel in use, threads, a short sgemm measurement, memory, store health.")

    @OptionGroup var storeOptions: StoreOptions
    @Flag(help: "Re-hash every object of the store (slow on big stores); without it, headers and references are checked.") var verify = false
    @Flag(name: .customLong("no-measure"), help: "Skip the sgemm and peak measurements.") var noMeasure = false
    @Flag(name: .customLong("test-kernels"), help: "Print, one per line, the OpenBLAS kernels among Prescott, Haswell, SkylakeX and Zen that this CPU can run (for running the numeric tests under each), and nothing else.") var testKernels = false
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let cpu = CPUInfo.current
        if testKernels {
            for k in Self.runnableTestKernels(cpu) { print(k) }
            return
        }
        let kernel = try BLAS.kernel()
        let threads = KernelThreads.count
        var measured: [(String, JSONValue)] = []
        var measureLines: [String] = []
        if !noMeasure {
            let peak = Throughput.fmaPeak(threads: threads, cpu: cpu)
            let s512 = Throughput.sgemm(n: 512), s1024 = Throughput.sgemm(n: 1024)
            func share(_ x: Double) -> String { peak.map { String(format: " (%.0f%% of peak)", 100 * x / $0) } ?? "" }
            measured = [("sgemm_512_gflops", .double(s512)), ("sgemm_1024_gflops", .double(s1024)),
                        ("fma_peak_gflops", peak.map { .double($0) } ?? .null)]
            measureLines = [
                "peak       " + (peak.map { String(format: "%.0f GFLOP/s: %@ multiply-adds on %d cores", $0, cpu.has("avx512f") ? "AVX-512" : "AVX2", threads) } ?? "not measured on this architecture"),
                String(format: "sgemm      n=512: %.0f GFLOP/s%@; n=1024: %.0f GFLOP/s%@", s512, share(s512), s1024, share(s1024)),
            ]
        }
        let memory = Self.memory()
        let store = try storeHealth()

        var kernelLine = "kernel     \(kernel.name)"
        var verdict = ""
        if kernel.corrected, let from = kernel.openBLASChoice {
            kernelLine += " (corrected by bridge: OpenBLAS chose \(from) for this CPU, whose features call for \(kernel.wanted ?? kernel.name))"
        } else if let user = kernel.userSetting {
            kernelLine += " (OPENBLAS_CORETYPE=\(user) set by the user is in force)"
            if kernel.isWeakerThanCPU, let wanted = kernel.wanted {
                verdict = "warning: \(kernel.name) is slower than the \(wanted) kernel this CPU's features allow; unset OPENBLAS_CORETYPE to let bridge choose"
            }
        } else {
            kernelLine += " (OpenBLAS's own choice" + (kernel.wanted.map { $0.lowercased() == kernel.name.lowercased() ? ", as the CPU's features call for)" : "; the features call for \($0))" } ?? ")")
        }
        if let problem = kernel.problem { verdict = "warning: " + problem }

        if json {
            var fields: [(String, JSONValue)] = [
                ("cpu", .object([
                    "architecture": .string(cpu.architecture.rawValue), "vendor": .string(cpu.vendor), "brand": .string(cpu.brand),
                    "family": .int(cpu.family), "model": .int(cpu.model), "stepping": .int(cpu.stepping),
                    "features": .array(cpu.features.map { .string($0) }),
                ])),
                ("openblas", .object([
                    "library": .string(kernel.library), "config": .string(kernel.config), "kernel": .string(kernel.name),
                    "openblas_choice": kernel.openBLASChoice.map { .string($0) } ?? .null,
                    "user_coretype": kernel.userSetting.map { .string($0) } ?? .null,
                    "wanted": kernel.wanted.map { .string($0) } ?? .null,
                    "corrected": .bool(kernel.corrected), "weaker_than_cpu": .bool(kernel.isWeakerThanCPU),
                    "problem": kernel.problem.map { .string($0) } ?? .null,
                ])),
                ("threads", .object(["kernels": .int(threads), "openblas": .int(BLAS.threads), "cores": .int(ProcessInfo.processInfo.activeProcessorCount)])),
                ("memory", .object(["total_bytes": .int(memory.total), "available_bytes": .int(memory.available)])),
                ("store", store.json),
                ("build", .string(Self.build)),
            ]
            fields += measured
            printJSON(.object(Dictionary(uniqueKeysWithValues: fields)))
            return
        }
        let model = cpu.architecture == .x86_64 ? " (\(cpu.vendor), family \(cpu.family) model \(cpu.model) stepping \(cpu.stepping))" : ""
        print("cpu        \(cpu.brand.isEmpty ? cpu.architecture.rawValue : cpu.brand)\(model), \(ProcessInfo.processInfo.activeProcessorCount) cores")
        print("features   \(Self.vectorFeatures(cpu).joined(separator: " "))")
        print("openblas   \(kernel.config) [\(kernel.library)]")
        print(kernelLine)
        print("threads    \(threads) for kernels, \(BLAS.threads) for OpenBLAS")
        for line in measureLines { print(line) }
        print("memory     \(formatBytes(memory.total)) total, \(formatBytes(memory.available)) available")
        for line in store.lines { print(line) }
        print("build      \(Self.build)")
        if !verdict.isEmpty { print(verdict) }
        if let problem = store.problem { print("warning: " + problem) }
    }

    /// The vector features that decide the kernels (the full list is in --json).
    static func vectorFeatures(_ cpu: CPUInfo) -> [String] {
        let shown = cpu.features.filter { f in
            ["sse4_2", "avx", "avx2", "fma", "f16c", "avx_vnni", "asimd", "sve", "sve2", "bf16", "i8mm"].contains(f)
                || f.hasPrefix("avx512") || f.hasPrefix("amx")
        }
        return shown.isEmpty ? cpu.features : shown
    }

    /// Of the kernels the numeric tests run under, those this CPU executes (a kernel beyond the
    /// CPU's instruction set would fault). Not x86-64: none.
    static func runnableTestKernels(_ cpu: CPUInfo) -> [String] {
        guard cpu.architecture == .x86_64 else { return [] }
        var kernels = ["Prescott"]
        if cpu.has("avx2") && cpu.has("fma") { kernels += ["Haswell", "Zen"] }
        if ["avx512f", "avx512bw", "avx512vl", "avx512dq", "avx512cd"].allSatisfy(cpu.has) { kernels.append("SkylakeX") }
        return kernels
    }

    static var build: String {
        #if DEBUG
        return "debug (bridge's own kernels run far slower than in a release build)"
        #else
        return "release"
        #endif
    }

    static func memory() -> (total: Int, available: Int) {
        let page = sysconf(Int32(_SC_PAGESIZE))
        var total = sysconf(Int32(_SC_PHYS_PAGES)) * page, available = sysconf(Int32(_SC_AVPHYS_PAGES)) * page
        if let bytes = try? InputFile.read("/proc/meminfo") {
            let text = String(decoding: bytes, as: UTF8.self)
            for line in text.split(separator: "\n") {
                let parts = line.split(separator: " ", omittingEmptySubsequences: true)
                guard parts.count >= 2, let kib = Int(parts[1]) else { continue }
                if parts[0] == "MemTotal:" { total = kib * 1024 }
                if parts[0] == "MemAvailable:" { available = kib * 1024 }
            }
        }
        return (total, available)
    }

    struct StoreHealth {
        var lines: [String]
        var json: JSONValue
        var problem: String?
    }

    func storeHealth() throws -> StoreHealth {
        let location = storeOptions.location
        guard InputFile.exists(location + "/config.json") else {
            return StoreHealth(lines: ["store      \(location): none yet ('bridge init' creates it)"],
                               json: .object(["path": .string(location), "exists": .bool(false)]))
        }
        let store = try storeOptions.open()
        let stats = try store.stats()
        let refs = try store.listRefs().count
        let reach = try store.gc(dryRun: true, graceSeconds: 0)
        var problems: [String] = []
        if !stats.unreadable.isEmpty { problems.append("\(stats.unreadable.count) objects with unreadable headers") }
        if !reach.missing.isEmpty { problems.append("\(reach.missing.count) referenced objects missing") }
        var verified: JSONValue = .null
        if verify {
            let report = try store.verify()
            verified = .object(["checked": .int(report.checked), "corrupt": .int(report.corrupt.count), "missing": .int(report.missing.count)])
            if !report.ok { problems.append("verify: \(report.corrupt.count) corrupt, \(report.missing.count) missing") }
        }
        let health = problems.isEmpty ? (verify ? "healthy (every object re-hashed)" : "healthy (headers and references; --verify re-hashes)")
                                      : problems.joined(separator: "; ")
        return StoreHealth(
            lines: ["store      \(store.root): \(stats.objects) objects, \(formatBytes(stats.diskBytes)) on disk, \(refs) refs, \(reach.removed.count) unreferenced",
                    "health     \(health)"],
            json: .object([
                "path": .string(store.root), "exists": .bool(true), "objects": .int(stats.objects), "disk_bytes": .int(stats.diskBytes),
                "logical_bytes": .int(stats.logicalBytes), "refs": .int(refs), "reachable": .int(reach.reachable),
                "unreferenced": .int(reach.removed.count), "missing": .int(reach.missing.count), "unreadable": .int(stats.unreadable.count),
                "verified": verified, "healthy": .bool(problems.isEmpty),
            ]),
            problem: problems.isEmpty ? nil : "the store has problems: run 'bridge ckpt verify'")
    }
}
