// The OpenBLAS kernel is chosen from feature bits (never model numbers), and the kernel in use is
// never weaker than the CPU's features allow unless the user chose it.

import Testing
import Tensors

@Suite struct CPUInfoTests {
    static func cpu(_ vendor: String, _ features: [String]) -> CPUInfo {
        CPUInfo(architecture: .x86_64, vendor: vendor, brand: "", family: 6, model: 0, stepping: 0, features: features)
    }

    @Test(arguments: [
        ("GenuineIntel", ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16"], "Cooperlake"),
        ("GenuineIntel", ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl"], "SkylakeX"),
        ("AuthenticAMD", ["avx", "avx2", "fma", "avx512f", "avx512bw", "avx512vl", "avx512_bf16"], "Cooperlake"),
        ("GenuineIntel", ["avx", "avx2", "fma", "avx512f"], "Haswell"),            // AVX-512F alone (Knights) is not SkylakeX
        ("GenuineIntel", ["avx", "avx2", "fma"], "Haswell"),
        ("AuthenticAMD", ["avx", "avx2", "fma"], "Zen"),
        ("HygonGenuine", ["avx", "avx2", "fma"], "Zen"),
        ("GenuineIntel", ["avx", "avx2"], "Sandybridge"),                           // AVX2 without FMA
        ("GenuineIntel", ["sse", "sse2", "pni"], nil),
    ] as [(String, [String], String?)])
    func kernelFollowsFeatures(vendor: String, features: [String], kernel: String?) {
        #expect(Self.cpu(vendor, features).openBLASKernel == kernel)
    }

    @Test func noKernelIsAskedForOnArm64() {
        let arm = CPUInfo(architecture: .arm64, vendor: "", brand: "", family: 0, model: 0, stepping: 0, features: ["asimd", "sve"])
        #expect(arm.openBLASKernel == nil)
    }

    @Test func tiersOrderTheKernels() {
        let order = ["Prescott", "Sandybridge", "Haswell", "SkylakeX", "Cooperlake"]
        #expect(order.map { BLASKernel.tier($0)! } == [0, 1, 2, 3, 4])
        #expect(BLASKernel.tier("ZEN") == BLASKernel.tier("haswell"))
        #expect(BLASKernel.tier("SomeFutureCore") == nil)
    }

    @Test func theKernelInUseIsNeverWeakerThanTheCPUUnlessTheUserChoseIt() throws {
        let k = try BLAS.kernel()
        #expect(!k.name.isEmpty)
        if k.userSetting == nil && k.problem == nil {
            #expect(!k.isWeakerThanCPU, "\(k.name) is weaker than \(String(describing: k.wanted)) (OpenBLAS chose \(String(describing: k.openBLASChoice)))")
        }
        if let user = k.userSetting {
            #expect(!k.corrected)
            #expect(user.lowercased() == k.name.lowercased() || k.problem != nil || BLASKernel.tier(user) == nil)
        }
    }

    @Test func theProbeSeesThisCPU() {
        let cpu = CPUInfo.current
        #if arch(x86_64)
        #expect(cpu.architecture == .x86_64)
        #expect(cpu.has("sse2"), "every x86-64 CPU has SSE2: \(cpu.features)")
        #expect(!cpu.vendor.isEmpty)
        // AVX-512 features only with AVX2, and only when the OS saves the registers (checked by the probe).
        if cpu.has("avx512f") { #expect(cpu.has("avx2")) }
        #endif
    }
}
