// `bridge report RUN... --out DIR` (DESIGN.md §4): one self-contained HTML page, DIR/index.html —
// inline CSS and inline SVG, nothing fetched, no scripts — with a results table (method, steps,
// final metrics, eval accuracy at the last eval, stage wall time, head id), the training curves of
// every run overlaid per metric (ReportMetric.catalog; a chart no run has data for is left out
// with a note), each run's history (which pruned steps' states are gone), and the canonical
// configs side by side with the settings that differ highlighted. Each chart is also written as
// DIR/<metric>.svg. The page depends only on the store: the same runs give the same bytes.

import Foundation
import ShardStore

public struct Report: Sendable {
    public let runs: [ReportRun]

    public init(runs: [ReportRun]) { self.runs = runs }

    /// The catalog for these runs' eval sets.
    public var metrics: [ReportMetric] { ReportMetric.catalog(evalSets: Set(runs.flatMap(\.evalSets)).sorted()) }

    /// A chart per metric some run has, and the metrics none has.
    public func charts() -> (charts: [(metric: ReportMetric, chart: ReportChart, without: [String])], omitted: [ReportMetric]) {
        var charts: [(ReportMetric, ReportChart, [String])] = [], omitted: [ReportMetric] = []
        let steps = 1...Double(max(1, runs.map(\.state.step).max() ?? 1))
        for m in metrics {
            var series: [ReportChart.Series] = [], without: [String] = []
            for (i, run) in runs.enumerated() {
                let color = ReportChart.palette[i % ReportChart.palette.count]
                var any = false
                for line in m.lines {
                    let pts = m.points(run, line)
                    guard !pts.isEmpty else { continue }
                    any = true
                    series.append(.init(label: run.name + line.suffix, color: color, dashed: line.dashed || i >= ReportChart.palette.count,
                                        points: pts.map { (Double($0.step), $0.value) }))
                }
                if !any { without.append(run.name) }
            }
            if series.isEmpty { omitted.append(m) } else { charts.append((m, ReportChart(id: m.id, title: m.title, series: series, steps: steps), without)) }
        }
        return (charts, omitted)
    }

    /// What the page shows, for programs: per run its head, config, journal times and every
    /// state's step and metrics (DIR/runs.json).
    public var data: JSONValue {
        .object(["format": "bridge-report/1", "runs": .array(runs.map { r in
            var o: [String: JSONValue] = ["name": .string(r.name), "head": .string(r.head.hex), "step": .int(r.state.step),
                                          "config": r.config, "missing_steps": .array(r.missingSteps.map { .int($0) }),
                                          "history": .array(r.history.map { .object(["step": .int($0.step), "metrics": .object($0.metrics)]) })]
            if let t = r.stageSeconds { o["stage_seconds"] = .double(t) }
            o["step_seconds"] = .object(Dictionary(uniqueKeysWithValues: r.stepSeconds.map { (String($0.key), .double($0.value)) }))
            return .object(o)
        })])
    }

    /// Writes DIR/index.html, DIR/<metric>.svg and DIR/runs.json (creating DIR); returns the paths written.
    @discardableResult
    public func write(to dir: String) throws -> [String] {
        do { try ExportFile.makeDirectories(dir) } catch {
            throw ReportError("cannot create '\(dir)': \(error)")
        }
        var files: [(String, String)] = [("index.html", html())]
        for c in charts().charts { files.append((c.metric.id + ".svg", c.chart.svg(standalone: true))) }
        files.append(("runs.json", String(decoding: data.canonicalBytes, as: UTF8.self) + "\n"))
        var written: [String] = []
        for (name, text) in files {
            let path = (dir as NSString).appendingPathComponent(name)
            do { try ExportFile.write(path: path, bytes: Array(text.utf8)) } catch {
                throw ReportError("cannot write '\(path)': \(error)")
            }
            written.append(path)
        }
        return written
    }

    // MARK: - the page

    static let style = """
        body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #222; margin: 24px; max-width: 1200px; }
        h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
        p.sub, p.note, .note { color: #555; font-size: 13px; }
        table { border-collapse: collapse; font-size: 13px; }
        th, td { border: 1px solid #ddd; padding: 4px 8px; text-align: left; vertical-align: top; }
        th { background: #f4f4f4; } td.num { text-align: right; font-variant-numeric: tabular-nums; }
        tr.diff td { background: #fff1b8; } tr.diff td:first-child { font-weight: bold; }
        code, .mono { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
        table.config td.mono { max-width: 420px; overflow-wrap: anywhere; }
        table.results td:first-child, table.results td:last-child { white-space: nowrap; }
        .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 6px; vertical-align: -1px; }
        .charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 12px 20px; }
        figure { margin: 0; } figcaption { font-size: 12px; color: #555; max-width: 560px; }
        details { margin: 6px 0; } summary { cursor: pointer; }
        """

    static func number(_ v: Double) -> String {
        if v == v.rounded(), abs(v) < 1e9 { return String(Int(v)) }
        let a = abs(v)
        return String(format: a >= 1000 ? "%.0f" : a >= 10 ? "%.2f" : "%.4f", v)
    }

    static func duration(_ s: Double) -> String {
        s < 60 ? String(format: "%.1f s", s) : s < 3600 ? String(format: "%d min %02d s", Int(s) / 60, Int(s) % 60)
            : String(format: "%d h %02d min", Int(s) / 3600, Int(s) % 3600 / 60)
    }

    /// Dotted key paths to leaf values (arrays by index), without the manifest's "format".
    static func flatten(_ v: JSONValue, _ prefix: String = "") -> [(String, String)] {
        switch v {
        case let .object(o):
            return o.keys.sorted().filter { !(prefix.isEmpty && $0 == "format") }.flatMap { flatten(o[$0]!, prefix.isEmpty ? $0 : prefix + "." + $0) }
        case let .array(a) where !a.isEmpty && a.contains(where: { $0.objectValue != nil }):
            return a.enumerated().flatMap { flatten($1, "\(prefix)[\($0)]") }
        case let .string(s): return [(prefix, s)]
        default: return [(prefix, v.canonical)]
        }
    }

    public func html() -> String {
        let e = ReportChart.escape
        let names = runs.map(\.name)
        func color(_ i: Int) -> String { ReportChart.palette[i % ReportChart.palette.count] }
        func swatch(_ i: Int) -> String { "<span class=\"swatch\" style=\"background:\(color(i))\"></span>" }
        var o = "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
        o += "<title>bridge report: \(e(names.joined(separator: ", ")))</title>\n<style>\n\(Self.style)\n</style>\n</head>\n<body>\n"
        o += "<h1>bridge report</h1>\n<p class=\"sub\">\(runs.count == 1 ? "run" : "runs") \(names.map { "<b>\(e($0))</b>" }.joined(separator: ", ")) "
        o += "— from each run's head state back through its parents; the canonical configs are those the run states name.</p>\n"

        // results
        let sets = Set(runs.flatMap(\.evalSets)).sorted()
        let finals: [(String, [String])] = [("reward", ["reward_mean"]), ("rollout accuracy", ["accuracy"]), ("SFT loss", ["sft_loss"]),
                                            ("KL", ["rl_kl", "rl_step/rl_kl"]), ("response length", ["response_tokens_mean"]),
                                            ("cooperative gain", ["cooperative_gain"]), ("cooperative gain (reward)", ["cooperative_gain_reward"])]
        o += "<h2>Results</h2>\n<table class=\"results\">\n<tr><th>run</th><th>method</th><th>steps</th>"
        for (label, _) in finals { o += "<th>\(e(label))</th>" }
        for s in sets { o += "<th>eval: \(e(s))</th>" }
        o += "<th>stage time</th><th>head</th></tr>\n"
        for (i, run) in runs.enumerated() {
            o += "<tr><td>\(swatch(i))\(e(run.name))</td><td>\(e(run.state.method.rawValue))</td><td class=\"num\">\(run.state.step)</td>"
            for (_, keys) in finals {
                if let key = keys.first(where: { run.last($0) != nil }), let (step, v) = run.last(key) {
                    o += "<td class=\"num\">\(Self.number(v))\(step == run.state.step ? "" : " <span class=\"note\">(step \(step))</span>")</td>"
                } else {
                    o += "<td class=\"num\">—</td>"
                }
            }
            for s in sets {
                if let (step, v) = run.last("eval/\(s)/accuracy") {
                    o += "<td class=\"num\">\(String(format: "%.3f", v)) <span class=\"note\">(step \(step))</span></td>"
                } else {
                    o += "<td class=\"num\">—</td>"
                }
            }
            o += "<td class=\"num\">\(run.stageSeconds.map(Self.duration) ?? "—")</td>"
            o += "<td><code title=\"\(run.head.hex)\">\(run.head.hex.prefix(12))</code></td></tr>\n"
        }
        o += "</table>\n<p class=\"note\">Final metrics: the last step's values (or the last step that recorded one, in parentheses). "
        o += "Eval: accuracy at the last evaluation. Stage time: the sum of the journal's stage wall times (executions; skipped stages cost nothing).</p>\n"

        // curves
        let (charts, omitted) = charts()
        o += "<h2>Training curves</h2>\n<div class=\"charts\">\n"
        for c in charts {
            o += "<figure>\n" + c.chart.svg() + "<figcaption>\(e(c.metric.note))"
            if !c.without.isEmpty {
                o += (c.metric.note.isEmpty ? "" : ". ") + "No data: \(c.without.map(e).joined(separator: ", "))."
            }
            o += " <a href=\"\(e(c.metric.id)).svg\">\(e(c.metric.id)).svg</a></figcaption>\n</figure>\n"
        }
        o += "</div>\n"
        if !omitted.isEmpty {
            o += "<p class=\"note omitted\">Not charted (no run recorded it): "
            o += omitted.map { "<b>\(e($0.title))</b>" + ($0.note.isEmpty ? "" : " (\(e($0.note)))") }.joined(separator: "; ") + ".</p>\n"
        }

        // history
        o += "<h2>History</h2>\n<ul>\n"
        for (i, run) in runs.enumerated() {
            let found = run.history.filter { $0.step >= 1 }.count
            o += "<li>\(swatch(i))<b>\(e(run.name))</b>: \(run.state.step) steps, \(found) step states in the store"
            if !run.missingSteps.isEmpty {
                o += "; <span class=\"missing\">the states of steps \(Self.ranges(run.missingSteps)) are gone (pruned by schedule.keep_last / keep_every and collected by gc): their metrics are not plotted</span>"
            }
            o += ".</li>\n"
        }
        o += "</ul>\n"
        for run in runs {
            o += "<details><summary>\(e(run.name)): every metric of step \(run.state.step)</summary>\n<table>\n"
            for (k, v) in run.state.metrics.sorted(by: { $0.key < $1.key }) {
                o += "<tr><td><code>\(e(k))</code></td><td class=\"num\">\(v.doubleValue.map(Self.number) ?? e(v.canonical))</td></tr>\n"
            }
            o += "</table>\n</details>\n"
        }

        // config
        let flat = runs.map { Dictionary(Self.flatten($0.config), uniquingKeysWith: { a, _ in a }) }
        let keys = Set(flat.flatMap(\.keys)).sorted()
        let differing = runs.count < 2 ? [] : keys.filter { k in Set(flat.map { $0[k] ?? "" }).count > 1 }
        o += "<h2>Config</h2>\n<p class=\"note\">The canonical pipeline config of each run (defaults filled in; <code>steps</code> is the run's, above)."
        if runs.count > 1 {
            o += differing.isEmpty ? " The runs' configs are the same." : " \(differing.count) setting\(differing.count == 1 ? "" : "s") differ (highlighted): "
                + differing.map { "<code>\(e($0))</code>" }.joined(separator: ", ") + "."
        }
        o += "</p>\n<table class=\"config\">\n<tr><th>key</th>" + runs.enumerated().map { "<th>\(swatch($0))\(e($1.name))</th>" }.joined() + "</tr>\n"
        let differs = Set(differing)
        for k in keys {
            o += "<tr\(differs.contains(k) ? " class=\"diff\"" : "")><td><code>\(e(k))</code></td>"
            o += flat.map { "<td class=\"mono\">\($0[k].map(e) ?? "—")</td>" }.joined() + "</tr>\n"
        }
        o += "</table>\n</body>\n</html>\n"
        return o
    }

    /// 1, 2, 3, 5, 7, 8 → "1–3, 5, 7–8".
    static func ranges(_ steps: [Int]) -> String {
        var parts: [String] = [], i = 0
        while i < steps.count {
            var j = i
            while j + 1 < steps.count, steps[j + 1] == steps[j] + 1 { j += 1 }
            parts.append(i == j ? "\(steps[i])" : "\(steps[i])–\(steps[j])")
            i = j + 1
        }
        return parts.joined(separator: ", ")
    }
}
