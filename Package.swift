// swift-tools-version:6.0
// bridge: cooperative SFT + RL (BRIDGE) for language models, on CPU, in Swift.
// Module layout and dependency direction: see README.md ("Layout"); no arrow points up.
import PackageDescription

// x86-64 Linux: AVX2 + FMA for the kernels (any x86-64 CPU since 2013); elsewhere the default target.
// BRIDGE_TARGET_CPU=<llvm cpu> builds them for another CPU (e.g. sapphirerapids; the binary then
// needs that CPU).
#if arch(x86_64)
let cpuSettings: [SwiftSetting] = [.unsafeFlags(["-target-cpu", Context.environment["BRIDGE_TARGET_CPU"] ?? "haswell"], .when(platforms: [.linux]))]
#else
let cpuSettings: [SwiftSetting] = []
#endif
// The library modules that do the heavy work (numerics, hashing and codecs, tokenizers) are
// optimised in debug builds too: the tests train real (tiny) models and tokenize real text, and
// unoptimised loops are 10–100× slower (a tiny BRIDGE step: 6 s → 1 s). Release is unaffected.
let numericSettings: [SwiftSetting] = [.unsafeFlags(["-O"], .when(configuration: .debug))]
let tensorsSettings = cpuSettings + numericSettings

let package = Package(
    name: "bridge",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "bridge", targets: ["BridgeCLI"]),
        .library(name: "Tensors", targets: ["Tensors"]),
        .library(name: "IO", targets: ["IO"]),
        .library(name: "ShardStore", targets: ["ShardStore"]),
        .library(name: "Checkpoint", targets: ["Checkpoint"]),
        .library(name: "Tokenizers", targets: ["Tokenizers"]),
        .library(name: "LanguageModel", targets: ["LanguageModel"]),
        .library(name: "Training", targets: ["Training"]),
        .library(name: "Pipeline", targets: ["Pipeline"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        .package(url: "https://github.com/jpsim/Yams", from: "6.0.0"),
    ],
    targets: [
        // C libraries, each wrapped once (module map + shim header, or a C target) and imported by one Swift file.
        .systemLibrary(name: "CLZ4", pkgConfig: "liblz4", providers: [.apt(["liblz4-dev"])]),
        .systemLibrary(name: "CXXHash", pkgConfig: "libxxhash", providers: [.apt(["libxxhash-dev"])]),

        // OpenBLAS is opened with dlopen at first use, so that its kernel can be chosen from the
        // CPU's features first (Sources/COpenBLAS/include/COpenBLAS.h); nothing links it.
        .target(name: "COpenBLAS", linkerSettings: [.linkedLibrary("dl", .when(platforms: [.linux]))]),
        // Kernels use SIMD16<Float>: let the compiler emit AVX2/FMA for them (haswell and later).
        .target(name: "CIntrinsics"),
        .target(name: "Tensors", dependencies: ["COpenBLAS", "CIntrinsics"], swiftSettings: tensorsSettings),
        .target(name: "IO", dependencies: ["Tensors"], swiftSettings: numericSettings),
        .target(name: "ShardStore", dependencies: ["IO", "Tensors", "CXXHash", "CLZ4"], swiftSettings: numericSettings),
        .target(name: "Checkpoint", dependencies: ["ShardStore", "Tensors", "LanguageModel", "Tokenizers"], swiftSettings: numericSettings),
        .target(name: "Tokenizers", dependencies: ["IO", "Tensors"], swiftSettings: numericSettings),
        .target(name: "LanguageModel", dependencies: ["IO", "Tensors"], swiftSettings: numericSettings),
        .target(name: "Training", dependencies: ["IO", "LanguageModel", "Tensors", "Tokenizers"], swiftSettings: numericSettings),
        .target(name: "Pipeline", dependencies: ["Training", "Checkpoint", "LanguageModel", "ShardStore", "Tokenizers",
                                                 .product(name: "Yams", package: "Yams")]),
        .executableTarget(
            name: "BridgeCLI",
            dependencies: [
                "Pipeline", "Training", "Checkpoint", "ShardStore", "Tensors", "Tokenizers", "LanguageModel",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]),
        .target(name: "TestSupport", dependencies: ["Tensors", "IO", "ShardStore"]),

        // Fuzzing (tools/fuzz.sh): one entry per parser of outside bytes, shared by the libFuzzer
        // driver and the corpus regression tests; corpora under Tests/Fuzz/<target>/. A plain build
        // makes BridgeFuzz a replayer; tools/fuzz.sh builds it with -sanitize=fuzzer,address and
        // -DBRIDGE_LIBFUZZER in its own scratch directory.
        .target(name: "FuzzTargets", dependencies: ["Checkpoint", "LanguageModel", "Pipeline", "ShardStore", "Tensors", "Tokenizers"]),
        .target(name: "CFuzzerDriver"),
        .executableTarget(name: "BridgeFuzz", dependencies: ["FuzzTargets", "CFuzzerDriver"]),

        // Each test target lists every module it imports (a transitive one may not be built yet).
        .testTarget(name: "TensorsTests", dependencies: ["Tensors", "TestSupport"]),
        .testTarget(name: "ShardStoreTests", dependencies: ["ShardStore", "Tensors", "TestSupport"]),
        .testTarget(name: "CheckpointTests", dependencies: ["Checkpoint", "LanguageModel", "ShardStore", "Tensors", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TokenizersTests", dependencies: ["IO", "Tensors", "Tokenizers", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "LanguageModelTests", dependencies: ["LanguageModel", "Tensors", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "TrainingTests", dependencies: ["Training", "IO", "LanguageModel", "Tensors", "TestSupport"], exclude: ["Fixtures"]),
        .testTarget(name: "PipelineTests", dependencies: ["Pipeline", "Checkpoint", "LanguageModel", "ShardStore", "Tensors", "Tokenizers", "Training", "TestSupport", "FuzzTargets"]),
        .testTarget(name: "BridgeCLITests", dependencies: ["Checkpoint", "ShardStore", "Tensors", "TestSupport"]),
    ]
)
