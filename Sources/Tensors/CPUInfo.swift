// What this CPU can do, from its feature bits (cpuid and the OS's saved-state mask on x86-64,
// hardware capabilities on arm64), and the OpenBLAS kernel those features call for. The choice
// is made from features alone, never from a list of model numbers (which is how OpenBLAS
// itself goes stale on CPUs newer than its release).

public struct CPUInfo: Sendable, Equatable {
    public enum Architecture: String, Sendable { case x86_64, arm64, other }

    public let architecture: Architecture
    /// "GenuineIntel", "AuthenticAMD", ... on x86-64; "" elsewhere.
    public let vendor: String
    /// The brand string ("Intel(R) Xeon(R) Processor"); "" when the CPU does not give one.
    public let brand: String
    /// Display family, model and stepping (x86-64), 0 elsewhere.
    public let family: Int
    public let model: Int
    public let stepping: Int
    /// Feature names in Linux's /proc/cpuinfo spelling (avx2, avx512f, avx512_bf16, asimd, sve, ...),
    /// only those the OS also enables (AVX and AVX-512 need their register state saved), sorted.
    public let features: [String]

    public static let current = CPUInfo.probe()

    public func has(_ feature: String) -> Bool { features.contains(feature) }

    /// The OpenBLAS kernel these features call for: AVX-512F/BW/VL → SkylakeX (plus BF16 →
    /// Cooperlake); AVX2 + FMA → Haswell (Zen on AMD and Hygon); AVX → Sandybridge; nil when
    /// there is nothing better than OpenBLAS's own choice to ask for (and on arm64).
    public var openBLASKernel: String? {
        guard architecture == .x86_64 else { return nil }
        let amd = vendor == "AuthenticAMD" || vendor == "HygonGenuine"
        if has("avx512f") && has("avx512bw") && has("avx512vl") {
            return has("avx512_bf16") ? "Cooperlake" : "SkylakeX"
        }
        if has("avx2") && has("fma") { return amd ? "Zen" : "Haswell" }
        if has("avx") { return amd ? "Bulldozer" : "Sandybridge" }
        return nil
    }

    /// The widest vector multiply-add this CPU runs: 16 floats (AVX-512), 8 (AVX2+FMA), else nil.
    var fmaWidth: Intrinsics.VectorWidth? {
        if has("avx512f") { return .avx512 }
        if has("avx2") && has("fma") { return .avx2 }
        return nil
    }

    public init(architecture: Architecture, vendor: String, brand: String, family: Int, model: Int,
                stepping: Int, features: [String]) {
        self.architecture = architecture
        self.vendor = vendor
        self.brand = brand
        self.family = family
        self.model = model
        self.stepping = stepping
        self.features = features.sorted()
    }

    static func probe() -> CPUInfo {
        #if arch(x86_64)
        return probeX86()
        #elseif arch(arm64)
        return probeARM64()
        #else
        return CPUInfo(architecture: .other, vendor: "", brand: "", family: 0, model: 0, stepping: 0, features: [])
        #endif
    }

    /// (register, bit, name) of cpuid leaf 1 and leaf 7 features.
    private static let leaf1: [(Int, Int, String)] = [
        (3, 25, "sse"), (3, 26, "sse2"), (2, 0, "pni"), (2, 9, "ssse3"), (2, 12, "fma"), (2, 19, "sse4_1"),
        (2, 20, "sse4_2"), (2, 23, "popcnt"), (2, 28, "avx"), (2, 29, "f16c"),
    ]
    private static let leaf7: [(Int, Int, String)] = [
        (1, 3, "bmi1"), (1, 5, "avx2"), (1, 8, "bmi2"), (1, 16, "avx512f"), (1, 17, "avx512dq"),
        (1, 21, "avx512ifma"), (1, 28, "avx512cd"), (1, 30, "avx512bw"), (1, 31, "avx512vl"),
        (2, 1, "avx512vbmi"), (2, 6, "avx512_vbmi2"), (2, 11, "avx512_vnni"), (2, 12, "avx512_bitalg"),
        (2, 14, "avx512_vpopcntdq"), (3, 22, "amx_bf16"), (3, 23, "avx512_fp16"), (3, 24, "amx_tile"),
        (3, 25, "amx_int8"),
    ]
    private static let leaf7sub1: [(Int, Int, String)] = [(0, 4, "avx_vnni"), (0, 5, "avx512_bf16")]

    static func probeX86() -> CPUInfo {
        func bits(_ r: (UInt32, UInt32, UInt32, UInt32)?, _ table: [(Int, Int, String)]) -> [String] {
            guard let r else { return [] }
            let regs = [r.0, r.1, r.2, r.3]
            return table.filter { regs[$0.0] & (1 << UInt32($0.1)) != 0 }.map(\.2)
        }
        func ascii(_ words: [UInt32]) -> String {
            var bytes: [UInt8] = []
            for w in words { for s in stride(from: 0, to: 32, by: 8) { bytes.append(UInt8((w >> UInt32(s)) & 0xff)) } }
            return String(decoding: bytes.prefix { $0 != 0 }, as: UTF8.self).trimmingSpaces()
        }
        let leaf0 = Intrinsics.cpuid(0)
        let vendor = leaf0.map { ascii([$0.1, $0.3, $0.2]) } ?? ""
        let maxLeaf = leaf0?.0 ?? 0
        let l1 = Intrinsics.cpuid(1)
        var family = 0, model = 0, stepping = 0
        if let eax = l1?.0 {
            let base = Int((eax >> 8) & 0xf), baseModel = Int((eax >> 4) & 0xf)
            family = base == 0xf ? base + Int((eax >> 20) & 0xff) : base
            model = (base == 6 || base == 0xf) ? baseModel | (Int((eax >> 16) & 0xf) << 4) : baseModel
            stepping = Int(eax & 0xf)
        }
        var features = bits(l1, leaf1)
        if maxLeaf >= 7 {
            features += bits(Intrinsics.cpuid(7, 0), leaf7)
            features += bits(Intrinsics.cpuid(7, 1), leaf7sub1)
        }
        // The OS must save the wider registers, or the instructions fault: drop what it does not enable.
        let xcr0 = Intrinsics.xcr0
        let ymm = xcr0 & 0x6 == 0x6, zmm = ymm && xcr0 & 0xe0 == 0xe0, amx = xcr0 & 0x60000 == 0x60000
        features.removeAll { f in
            (!ymm && ["avx", "avx2", "fma", "f16c", "avx_vnni"].contains(f))
                || (!zmm && f.hasPrefix("avx512")) || (!amx && f.hasPrefix("amx"))
        }
        var brand = ""
        if let ext = Intrinsics.cpuid(0x8000_0000), ext.0 >= 0x8000_0004 {
            let words = (UInt32(0x8000_0002)...0x8000_0004).compactMap { Intrinsics.cpuid($0) }.flatMap { [$0.0, $0.1, $0.2, $0.3] }
            brand = ascii(words)
        }
        return CPUInfo(architecture: .x86_64, vendor: vendor, brand: brand, family: family, model: model,
                       stepping: stepping, features: features)
    }

    static func probeARM64() -> CPUInfo {
        // Linux's arm64 HWCAP / HWCAP2 bits (arch/arm64/include/uapi/asm/hwcap.h).
        let (h1, h2) = Intrinsics.hwcap
        let table1: [(Int, String)] = [(0, "fp"), (1, "asimd"), (9, "fphp"), (10, "asimdhp"), (20, "asimddp"), (22, "sve")]
        let table2: [(Int, String)] = [(1, "sve2"), (13, "i8mm"), (14, "bf16")]
        let features = table1.filter { h1 & (1 << UInt64($0.0)) != 0 }.map(\.1)
            + table2.filter { h2 & (1 << UInt64($0.0)) != 0 }.map(\.1)
        return CPUInfo(architecture: .arm64, vendor: "", brand: "", family: 0, model: 0, stepping: 0, features: features)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while s.first == " " { s.removeFirst() }
        while s.last == " " { s.removeLast() }
        return String(s)
    }
}
