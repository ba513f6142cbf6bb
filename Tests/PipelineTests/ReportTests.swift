// `bridge report`'s page from real runs: three tiny runs of two methods (BRIDGE with shared and
// with separate shadow rollouts, and RL-zero) in one store give one SVG chart per metric any of
// them recorded, lines with a point per step that has the metric, every run's name in the
// legends, charts a run lacks without its line (a chart no run has is left out with a note), the
// configs' differences highlighted, standalone SVG files that parse as XML, no http(s)
// reference; a run whose pruned states gc collected is plotted from the states that remain, and
// says which are gone; an unknown run is an error naming it.

import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Testing
import TestSupport
@testable import Pipeline
@testable import ShardStore

/// Charts of a page or SVG text: chart id → (polyline label → point count).
func reportCharts(_ text: String) -> [String: [String: Int]] {
    var out: [String: [String: Int]] = [:]
    for part in text.components(separatedBy: "<svg").dropFirst() {
        let svg = part.components(separatedBy: "</svg>")[0]
        guard let id = attribute("id", in: svg)?.replacingOccurrences(of: "chart-", with: "") else { continue }
        var lines: [String: Int] = [:]
        for p in svg.components(separatedBy: "<polyline").dropFirst() {
            let tag = p.components(separatedBy: "/>")[0]
            lines[attribute("data-label", in: tag) ?? "?"] = attribute("points", in: tag)!.split(separator: " ").count
        }
        out[id] = lines
    }
    return out
}

func attribute(_ name: String, in tag: String) -> String? {
    guard let r = tag.range(of: " \(name)=\"") else { return nil }
    return String(tag[r.upperBound...].prefix { $0 != "\"" })
}

#if canImport(FoundationXML)
/// Whether `text` is well-formed XML (the standalone SVG files). parse() can return true with an
/// error recorded (an unclosed element at the end), so both are checked.
func isWellFormedXML(_ text: String) -> Bool {
    let parser = XMLParser(data: Data(text.utf8))
    return parser.parse() && parser.parserError == nil
}
#endif

@Suite struct ReportTests {
    let scratch = ScratchDirectory("report")

    func config(_ file: String, _ extra: [String]) throws -> PipelineConfig {
        try PipelineConfig.load(path: repositoryRoot + "/pipelines/" + file, overrides: tinyOverrides + extra)
    }

    @Test func runsOfTwoMethodsOverlaidPerMetric() throws {
        let store = try Store.create(at: scratch.file("store"))
        // eval at steps 2 (eval_every) and 3 (the last)
        try PipelineRunner(store: store, config: try config("quickstart.yaml", ["steps=3"]), run: "bridge").execute()
        try PipelineRunner(store: store, config: try config("quickstart.yaml", ["bridge.shadow_rollouts=separate", "steps=3"]), run: "bridge-sep").execute()
        try PipelineRunner(store: store, config: try config("rl-zero.yaml", ["steps=3"]), run: "zero").execute()

        let report = Report(runs: try ["bridge", "bridge-sep", "zero"].map { try store.reportRun($0) })
        #expect(report.runs.allSatisfy { $0.history.map(\.step) == [0, 1, 2, 3] && $0.missingSteps.isEmpty && ($0.stageSeconds ?? 0) > 0 })
        let out = scratch.file("out")
        let files = try report.write(to: out)
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        #expect(files.first == out + "/index.html")
        // the same data for programs: every state's metrics, as the run states hold them
        let data = try JSONValue(parsing: Array(try Data(contentsOf: URL(fileURLWithPath: out + "/runs.json"))))
        #expect(files.contains(out + "/runs.json"))
        #expect(data["runs"]?.arrayValue?.map { $0["name"]?.stringValue } == ["bridge", "bridge-sep", "zero"])
        for (run, json) in zip(report.runs, data["runs"]?.arrayValue ?? []) {
            #expect(json["head"]?.stringValue == run.head.hex && json["step"]?.intValue == 3)
            let history = json["history"]?.arrayValue ?? []
            #expect(history.map { $0["step"]?.intValue } == run.history.map(\.step))
            for (h, state) in zip(history, run.history) { #expect(h["metrics"] == .object(state.metrics)) }
        }

        // one chart per metric some run recorded, and only those
        let charts = reportCharts(html)
        let expected: Set = ["reward", "cooperative-gain", "cooperative-gain-reward", "sft-loss", "kl", "response-length", "eval-held-out",
                             "rollout-accuracy", "rl-loss", "grad-norm-theta", "grad-norm-lora", "step-seconds"]
        #expect(Set(charts.keys) == expected)
        #expect(html.components(separatedBy: "<svg").count - 1 == expected.count)
        #expect(!html.contains("omitted") && !html.contains("Not charted"))

        // a point per step with the metric; a run without it has no line
        let all3 = ["bridge": 3, "bridge-sep": 3, "zero": 3]
        #expect(charts["reward"] == all3.merging(["bridge-sep θ̂ (shadow)": 3]) { a, _ in a })
        #expect(charts["response-length"] == all3.merging(["bridge-sep θ̂ (shadow)": 3]) { a, _ in a })
        #expect(charts["kl"] == all3 && charts["step-seconds"] == all3 && charts["rl-loss"] == all3)
        #expect(charts["eval-held-out"] == ["bridge": 2, "bridge-sep": 2, "zero": 2])
        #expect(charts["sft-loss"] == ["bridge": 3, "bridge-sep": 3] && charts["grad-norm-lora"] == ["bridge": 3, "bridge-sep": 3])
        // the first-order gain with shared shadow rollouts, the reward difference with separate ones
        #expect(charts["cooperative-gain"] == ["bridge": 3])
        #expect(charts["cooperative-gain-reward"] == ["bridge-sep": 3])
        #expect(html.contains("No data: zero.") && html.contains("No data: bridge-sep, zero.") && html.contains("No data: bridge, zero."))
        // every chart's x axis spans the runs' steps, the eval chart's too (its points are at 2 and 3)
        let evalSVG = html.components(separatedBy: "id=\"chart-eval-held-out\"")[1].components(separatedBy: "</svg>")[0]
        for step in 1...3 { #expect(evalSVG.contains("text-anchor=\"middle\" fill=\"#444444\">\(step)</text>")) }
        // the polyline follows the values: the SFT-loss chart's y coordinates order as the losses do
        let losses = report.runs[0].history.dropFirst().map { $0.metrics["sft_loss"]!.doubleValue! }
        let lossSVG = html.components(separatedBy: "id=\"chart-sft-loss\"")[1].components(separatedBy: "</svg>")[0]
        let line = lossSVG.components(separatedBy: "data-label=\"bridge\"")[1]
        let ys = attribute("points", in: line)!.split(separator: " ").map { Double($0.split(separator: ",")[1])! }
        #expect(Set(losses).count > 1)
        for i in 0..<2 where losses[i] != losses[i + 1] { #expect((ys[i] < ys[i + 1]) == (losses[i] > losses[i + 1])) }

        // every name in the legend of a chart all have, each in its own colour; nothing fetched from elsewhere
        for id in ["reward", "kl", "eval-held-out"] {
            let svg = html.components(separatedBy: "id=\"chart-\(id)\"")[1].components(separatedBy: "</svg>")[0]
            for (i, name) in ["bridge", "bridge-sep", "zero"].enumerated() {
                #expect(svg.contains(">\(name)</text>") && svg.contains("data-label=\"\(name)\" fill=\"none\" stroke=\"\(ReportChart.palette[i])\""), "\(id)")
            }
        }
        #expect(!html.contains("http://") && !html.contains("https://") && !html.contains("<script") && !html.contains("<link"))

        // results: method, steps, eval accuracy at the last eval, head id
        let results = html.components(separatedBy: "<table class=\"results\">")[1].components(separatedBy: "</table>")[0]
        for run in report.runs {
            #expect(results.contains(run.head.hex.prefix(12)))
            let acc = run.last("eval/held-out/accuracy")!
            #expect(acc.step == 3 && results.contains(String(format: "%.3f", acc.value) + " <span class=\"note\">(step 3)</span>"))
        }
        #expect(results.contains("<td>bridge</td>") && results.contains("<td>rl-zero</td>"))
        // config: the methods, the shadow rollouts and the learning rates (each file's own) differ, ε does not
        let config = html.components(separatedBy: "<table class=\"config\">")[1]
        #expect(config.contains("<tr class=\"diff\"><td><code>method</code></td><td class=\"mono\">bridge</td><td class=\"mono\">bridge</td><td class=\"mono\">rl-zero</td>"))
        #expect(config.contains("<tr class=\"diff\"><td><code>bridge.shadow_rollouts</code></td><td class=\"mono\">shared</td><td class=\"mono\">separate</td>"))
        #expect(config.contains("<tr class=\"diff\"><td><code>train.learning_rate</code></td>"))
        #expect(config.contains("<tr><td><code>rl.epsilon</code></td>"))
        #expect(config.contains("<code>data.eval[0].name</code></td><td class=\"mono\">held-out</td>"))

        // each chart as its own SVG file: well-formed XML with the same lines
        #if canImport(FoundationXML)
        #expect(!isWellFormedXML("<svg><g></svg>") && !isWellFormedXML("<svg>θ̂ &nbsp;</svg>"))
        #endif
        for id in expected {
            let svg = try String(contentsOfFile: out + "/\(id).svg", encoding: .utf8)
            #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
            #expect(reportCharts(svg)[id] == charts[id])
            #if canImport(FoundationXML)
            #expect(isWellFormedXML(svg), "\(id).svg")
            #endif
        }
        #expect(files.count == expected.count + 2)  // index.html, the charts, runs.json

        // the RL-zero run alone: the charts only BRIDGE records are left out, with a note
        let alone = Report(runs: [try store.reportRun("zero")])
        let (kept, omitted) = alone.charts()
        let bridgeOnly: Set = ["cooperative-gain", "cooperative-gain-reward", "sft-loss", "grad-norm-lora"]
        #expect(Set(omitted.map(\.id)) == bridgeOnly)
        #expect(Set(kept.map(\.metric.id)) == expected.subtracting(bridgeOnly))
        let page = alone.html()
        #expect(page.components(separatedBy: "<svg").count - 1 == expected.count - bridgeOnly.count)
        #expect(page.contains("Not charted (no run recorded it): ") && page.contains("<b>SFT loss</b>"))
        #expect(!page.contains("class=\"diff\""))

        // an unknown run: an error naming it; nothing written
        #expect { try store.reportRun("nope") } throws: { "\($0)".contains("no run 'nope'") }
        #expect { try store.reportRun("../x") } throws: { "\($0)".contains("no run '../x'") }
    }

    @Test func prunedStatesCollectedByGCAreSaidAndTheRestIsPlotted() throws {
        let store = try Store.create(at: scratch.file("pruned"))
        let c = try config("sft.yaml", ["steps=5", "schedule.keep_last=1", "schedule.keep_every=2", "schedule.eval_every=0"])
        try PipelineRunner(store: store, config: c, run: "s").execute()
        #expect(try store.reportRun("s").missingSteps.isEmpty)
        _ = try store.gc(dryRun: false, graceSeconds: 0)
        let run = try store.reportRun("s")
        #expect(run.history.map(\.step) == [2, 4, 5] && run.missingSteps == [1, 3])
        let html = Report(runs: [run]).html()
        let charts = reportCharts(html)
        #expect(charts["sft-loss"] == ["s": 3])
        // the journal keeps every step's times
        #expect(charts["step-seconds"] == ["s": 5])
        #expect(charts["eval-accuracy"] == nil && charts["reward"] == nil)
        #expect(html.contains("the states of steps 1, 3 are gone"))
        #expect(Report.ranges([1, 2, 3, 5, 7, 8]) == "1–3, 5, 7–8")
    }

    @Test func ticksAreNiceAndCoverTheData() {
        #expect(ReportChart.ticks(1, 3, integer: true) == [1, 2, 3])
        #expect(ReportChart.ticks(1, 60, integer: true) == [0, 10, 20, 30, 40, 50, 60])
        #expect(ReportChart.ticks(2, 2, integer: true) == [1, 2, 3])
        let y = ReportChart.ticks(0.013, 0.41, integer: false)
        #expect(y.first! <= 0.013 && y.last! >= 0.41 && y.count >= 4 && y.count <= 7)
        #expect(ReportChart.label(0.1 * 3, step: 0.1) == "0.3" && ReportChart.label(-1e-17, step: 0.05) == "0.00")
    }
}
