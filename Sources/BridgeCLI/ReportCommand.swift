// `bridge report RUN... --out DIR`: one self-contained HTML page (DIR/index.html: results table,
// training curves as inline SVG, configs with their differences) and each chart as DIR/<metric>.svg
// (Pipeline/ReportPage.swift). Every run is read before anything is written: an unknown run is an
// error naming it, and DIR is left as it was.

import ArgumentParser
import Foundation
import Pipeline
import ShardStore

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Write a self-contained HTML report of runs: results, training curves (SVG), configs.",
        discussion: "Several runs are overlaid in one chart per metric, and their configs' differences highlighted.")

    @OptionGroup var storeOptions: StoreOptions
    @Argument(help: "Run names (see `bridge status`).") var runs: [String]
    @Option(help: "The output directory (created if missing): index.html and one .svg per chart.") var out: String
    @Flag(help: "Print the files written as a JSON array.") var json = false

    func run() throws {
        let store = try storeOptions.open()
        var names: [String] = []
        for r in runs where !names.contains(r) { names.append(r) }
        let report = Report(runs: try names.map { try store.reportRun($0) })
        let files = try report.write(to: out)
        if json { printJSON(.array(files.map { .string($0) })); return }
        let (charts, omitted) = report.charts()
        print("wrote \((out as NSString).appendingPathComponent("index.html")) (\(names.count) run\(names.count == 1 ? "" : "s"), \(charts.count) charts"
              + (omitted.isEmpty ? "" : "; no data for: \(omitted.map(\.id).joined(separator: ", "))") + ")")
        for run in report.runs where !run.missingSteps.isEmpty {
            print("note: run '\(run.name)': the states of \(run.missingSteps.count) pruned steps are gone; their metrics are not plotted")
        }
    }
}
