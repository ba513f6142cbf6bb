// `bridge bench ...`: benchmarks that print numbers (never part of the pass/fail tests).

import ArgumentParser

struct Bench: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Benchmarks (release builds; compare with tools/bench_*.py).",
        subcommands: [BenchStore.self, BenchCodecs.self, BenchTrain.self, BenchGenerate.self, BenchIteration.self])
}
