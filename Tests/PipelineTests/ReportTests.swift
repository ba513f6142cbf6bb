// `bridge report`'s page from real runs: two tiny runs of two methods (BRIDGE with separate shadow
// rollouts, and RL-zero) in one store give one SVG chart per metric either recorded, lines with a
// point per step that has the metric, both run names in the legends, charts a run lacks without
// its line (a chart no run has is left out with a note), the configs' differences highlighted,
// standalone SVG files that parse as XML, no http(s) reference; a run whose pruned states gc
// collected is plotted from the states that remain, and says which are gone; an unknown run is
// an error naming it.

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

    @Test func twoRunsOfTwoMethodsOverlaidPerMetric() throws {
        let store = try Store.create(at: scratch.file("store"))
        // eval at steps 2 (eval_every) and 3 (the last)
        try PipelineRunner(store: store, config: try config("quickstart.yaml", ["bridge.shadow_rollouts=separate", "steps=3"]), run: "bridge-sep").execute()
        try PipelineRunner(store: store, config: try config("rl-zero.yaml", ["steps=3"]), run: "zero").execute()

        let report = Report(runs: [try store.reportRun("bridge-sep"), try store.reportRun("zero")])
        #expect(report.runs.map { $0.history.map(\.step) } == [[0, 1, 2, 3], [0, 1, 2, 3]])
        #expect(report.runs.allSatisfy { $0.missingSteps.isEmpty && ($0.stageSeconds ?? 0) > 0 })
        let out = scratch.file("out")
        let files = try report.write(to: out)
        let html = try String(contentsOfFile: out + "/index.html", encoding: .utf8)
        #expect(files.first == out + "/index.html")

        // one chart per metric some run recorded, and only those
        let charts = reportCharts(html)
        let expected: Set = ["reward", "cooperative-gain", "sft-loss", "kl", "response-length", "eval-held-out", "rollout-accuracy", "rl-loss",
                             "grad-norm-theta", "grad-norm-lora", "step-seconds"]
        #expect(Set(charts.keys) == expected)
        #expect(html.components(separatedBy: "<svg").count - 1 == expected.count)
        #expect(!html.contains("omitted") && !html.contains("Not charted"))

        // a point per step with the metric; a run without it has no line
        #expect(charts["reward"] == ["bridge-sep": 3, "bridge-sep θ̂ (shadow)": 3, "zero": 3])
        #expect(charts["kl"] == ["bridge-sep": 3, "zero": 3])
        #expect(charts["response-length"] == ["bridge-sep": 3, "bridge-sep θ̂ (shadow)": 3, "zero": 3])
        #expect(charts["eval-held-out"] == ["bridge-sep": 2, "zero": 2])
        #expect(charts["sft-loss"] == ["bridge-sep": 3])
        #expect(charts["cooperative-gain"] == ["bridge-sep": 3])
        #expect(charts["step-seconds"] == ["bridge-sep": 3, "zero": 3])
        #expect(html.contains("No data: zero."))
        // every chart's x axis spans the runs' steps, the eval chart's too (its points are at 2 and 3)
        let evalSVG = html.components(separatedBy: "id=\"chart-eval-held-out\"")[1].components(separatedBy: "</svg>")[0]
        for step in 1...3 { #expect(evalSVG.contains("text-anchor=\"middle\" fill=\"#444444\">\(step)</text>")) }
        // the polyline follows the values: the reward chart's y coordinates order as the rewards do
        let rewards = report.runs[0].history.dropFirst().map { $0.metrics["reward_mean"]!.doubleValue! }
        let rewardSVG = html.components(separatedBy: "id=\"chart-reward\"")[1].components(separatedBy: "</svg>")[0]
        let line = rewardSVG.components(separatedBy: "data-label=\"bridge-sep\"")[1]
        let ys = attribute("points", in: line)!.split(separator: " ").map { Double($0.split(separator: ",")[1])! }
        for i in 0..<2 where rewards[i] != rewards[i + 1] { #expect((ys[i] < ys[i + 1]) == (rewards[i] > rewards[i + 1])) }

        // both names in every legend of a chart both have; nothing fetched from elsewhere
        for id in ["reward", "kl", "eval-held-out"] {
            let svg = html.components(separatedBy: "id=\"chart-\(id)\"")[1].components(separatedBy: "</svg>")[0]
            #expect(svg.contains(">bridge-sep</text>") && svg.contains(">zero</text>"), "\(id)")
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
        // config: the methods and the shadow rollouts differ, the learning rate does not
        let config = html.components(separatedBy: "<table class=\"config\">")[1]
        #expect(config.contains("<tr class=\"diff\"><td><code>method</code></td><td class=\"mono\">bridge</td><td class=\"mono\">rl-zero</td>"))
        #expect(config.contains("<tr class=\"diff\"><td><code>bridge.shadow_rollouts</code></td>"))
        #expect(config.contains("<tr><td><code>train.learning_rate</code></td>"))
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
        #expect(files.count == expected.count + 1)

        // the RL-zero run alone: the charts only BRIDGE records are left out, with a note
        let alone = Report(runs: [try store.reportRun("zero")])
        let (kept, omitted) = alone.charts()
        #expect(Set(omitted.map(\.id)) == ["cooperative-gain", "sft-loss", "grad-norm-lora"])
        #expect(Set(kept.map(\.metric.id)) == expected.subtracting(["cooperative-gain", "sft-loss", "grad-norm-lora"]))
        let page = alone.html()
        #expect(page.components(separatedBy: "<svg").count - 1 == expected.count - 3)
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
