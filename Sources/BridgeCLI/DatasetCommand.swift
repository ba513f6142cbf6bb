// `bridge dataset`: read a math dataset into the common record form, or write the built-in
// synthetic arithmetic task as JSONL.

import ArgumentParser
import Foundation
import ShardStore
import Training

struct DatasetCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "dataset",
        abstract: "Read datasets into the common record form; write the synthetic arithmetic task.",
        subcommands: [DatasetShow.self, DatasetSynth.self])
}

struct DatasetShow: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Read a dataset file (GSM8K, MATH, MATH-500, AIME24, AMC23, Minerva, OlympiadBench, or bridge JSONL).")

    @Argument(help: "The JSONL file.")
    var file: String

    @Option(help: "The layout (default: detected from the first line's fields): \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", ")).")
    var format: String?

    @Option(help: "Show at most this many records.")
    var limit: Int?

    @Flag(help: "Print records as JSON lines (id, source, prompt, answer, target, tolerance, level).")
    var json = false

    func validate() throws {
        if let format, DatasetFormat(rawValue: format) == nil {
            throw ValidationError("unknown format '\(format)'; expected one of \(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", "))")
        }
        if let limit, limit < 0 { throw ValidationError("--limit must not be negative") }
    }

    func run() throws {
        let records: [MathRecord]
        do {
            records = try DatasetReader.read(URL(fileURLWithPath: file), format: format.flatMap(DatasetFormat.init))
        } catch {
            throw UserError(error.description)
        }
        let shown = records.prefix(limit ?? records.count)
        if json {
            for r in shown { print(r.jsonLine) }
            return
        }
        for r in shown {
            print("\(r.id)  [\(r.source)\(r.level.map { ", level \($0)" } ?? "")]  answer: \(r.answer)")
        }
        print("\(records.count) records" + (shown.count < records.count ? " (\(shown.count) shown)" : ""))
    }
}

struct DatasetSynth: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "synth",
        abstract: "Write problems of the synthetic arithmetic task as bridge JSONL.")

    @Option(help: "Seed: the same seed, level and index give the same problem on every machine.")
    var seed: UInt64 = SyntheticArithmetic.defaultSeed

    @Option(help: "Difficulty level 1 (one operation on digits) to 5 (four operations on 3-digit numbers).")
    var level: Int = SyntheticArithmetic.defaultLevel

    @Option(help: "Number of problems.")
    var count: Int = SyntheticArithmetic.defaultTestCount

    @Option(help: "train, validation or test (the splits never share a problem).")
    var split: String = "train"

    @Option(help: "arithmetic (expressions and word problems) or equations (find x; the out-of-distribution family).")
    var family: String = "arithmetic"

    @Option(help: "Output file (JSONL); written atomically. Without it, lines go to standard output.")
    var out: String?

    @Flag(help: "Print a JSON summary (with --out).")
    var json = false

    func validate() throws {
        guard SyntheticArithmetic.Split(rawValue: split) != nil else { throw ValidationError("--split must be train, validation or test") }
        guard SyntheticArithmetic.Family(rawValue: family) != nil else { throw ValidationError("--family must be arithmetic or equations") }
        guard count >= 0 else { throw ValidationError("--count must not be negative") }
    }

    func run() throws {
        let records: [MathRecord]
        do {
            let task = try SyntheticArithmetic(seed: seed, level: level, family: SyntheticArithmetic.Family(rawValue: family)!)
            records = task.records(count: count, split: SyntheticArithmetic.Split(rawValue: split)!)
        } catch {
            throw UserError(error.description)
        }
        guard let out else {
            for r in records { print(r.jsonLine) }
            return
        }
        // through the store's export funnel (a temporary, fsync, rename), like every file bridge writes
        try ExportFile.write(path: out, bytes: Array(records.jsonl.utf8))
        if json {
            printJSON(["file": .string(out), "records": .int(records.count), "seed": .int(Int(truncatingIfNeeded: seed)),
                       "level": .int(level), "split": .string(split), "family": .string(family)])
        } else {
            print("wrote \(records.count) \(split) problems (level \(level), seed \(seed)) to \(out)")
        }
    }
}

/// The records a `--data` option names: a JSONL dataset file (`format` detected from the first
/// line unless given) or `synthetic`, the built-in task with the given seed, level, count, split.
func readDataset(_ data: String, format: String?, synthetic: (seed: UInt64, level: Int, count: Int, split: String, family: String)) throws -> [MathRecord] {
    if data == "synthetic" {
        guard let split = SyntheticArithmetic.Split(rawValue: synthetic.split) else {
            throw UserError("unknown --split '\(synthetic.split)' (train, validation or test)")
        }
        guard let family = SyntheticArithmetic.Family(rawValue: synthetic.family) else {
            throw UserError("unknown --family '\(synthetic.family)' (arithmetic or equations)")
        }
        return try SyntheticArithmetic(seed: synthetic.seed, level: synthetic.level, family: family).records(count: synthetic.count, split: split)
    }
    return try DatasetReader.read(URL(fileURLWithPath: data), format: try format.map(parseDatasetFormat))
}

/// A `--format` value.
func parseDatasetFormat(_ format: String) throws -> DatasetFormat {
    guard let f = DatasetFormat(rawValue: format) else {
        throw UserError("unknown --format '\(format)' (\(DatasetFormat.allCases.map(\.rawValue).joined(separator: ", ")))")
    }
    return f
}
