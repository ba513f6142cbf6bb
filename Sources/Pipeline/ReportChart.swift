// A line chart as SVG text for `bridge report`: series of (step, value) points overlaid on one
// pair of axes, tick labels at "nice" numbers (1, 2, 5 × 10^k), a legend that wraps, dashed lines
// for a run's second series. No scripts, no fonts or images from elsewhere: the page inlines it
// (without a namespace declaration, as HTML allows) and the standalone file declares the SVG namespace.
//
// Coordinates: x is the step, y the value; the plot area is the chart minus the margins.

import Foundation

public struct ReportChart: Sendable {
    public struct Series: Sendable {
        public let label: String
        public let color: String
        public let dashed: Bool
        public let points: [(x: Double, y: Double)]
    }

    public let id: String
    public let title: String
    public let series: [Series]
    /// Steps the x axis covers besides the points' (the runs' whole length, so charts line up).
    public var steps: ClosedRange<Double>?
    public var width = 560.0
    public var height = 320.0

    /// Distinct, saturated line colours (the screenshot check looks for them), one per run.
    public static let palette = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]

    public init(id: String, title: String, series: [Series], steps: ClosedRange<Double>? = nil) {
        self.id = id; self.title = title; self.series = series; self.steps = steps
    }

    /// Ticks at a nice spacing covering lo...hi (the axis then spans the first to the last tick).
    static func ticks(_ lo: Double, _ hi: Double, integer: Bool, target: Int = 5) -> [Double] {
        var lo = lo, hi = hi
        if hi - lo < 1e-12 * max(1, abs(lo)) {
            let pad = integer ? 1 : max(abs(lo) * 0.1, 0.5)
            lo -= pad; hi += pad
        }
        let raw = (hi - lo) / Double(target)
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let f = raw / magnitude
        var step = (f < 1.5 ? 1 : f < 3 ? 2 : f < 7 ? 5 : 10) * magnitude
        if integer { step = max(1, step.rounded()) }
        let first = (lo / step).rounded(.down), last = (hi / step).rounded(.up)
        return stride(from: first, through: last, by: 1).map { $0 * step }
    }

    /// A tick label with as many decimals as the spacing needs.
    static func label(_ v: Double, step: Double) -> String {
        let decimals = step >= 1 ? 0 : min(8, Int((-log10(step) - 1e-9).rounded(.up)))
        return String(format: "%.\(decimals)f", abs(v) < step * 1e-6 ? 0 : v)
    }

    static func escape(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(c)
            }
        }
        return out
    }

    static func f(_ x: Double) -> String { String(format: "%.1f", x) }

    /// The chart as an <svg> element; `standalone` adds the namespace and a white background (a file of its own).
    public func svg(standalone: Bool = false) -> String {
        let e = Self.escape, f = Self.f
        let left = 62.0, right = 18.0, bottom = 44.0
        // legend: items wrap into rows under the title
        var legend: [(x: Double, row: Int, series: Series)] = []
        var x = left, row = 0
        for s in series {
            let w = 30 + 7 * Double(s.label.count) + 16
            if x + w > width - right, x > left { x = left; row += 1 }
            legend.append((x, row, s))
            x += w
        }
        let top = 30 + Double(series.isEmpty ? 0 : row + 1) * 16 + 8
        let plotW = width - left - right, plotH = height - top - bottom

        let xs = series.flatMap { $0.points.map(\.x) } + (steps.map { [$0.lowerBound, $0.upperBound] } ?? []), ys = series.flatMap { $0.points.map(\.y) }
        let xt = Self.ticks(xs.min() ?? 0, xs.max() ?? 1, integer: true)
        let yt = Self.ticks(ys.min() ?? 0, ys.max() ?? 1, integer: false)
        let (x0, x1, y0, y1) = (xt.first!, xt.last!, yt.first!, yt.last!)
        func px(_ v: Double) -> Double { left + (v - x0) / (x1 - x0) * plotW }
        func py(_ v: Double) -> Double { top + plotH - (v - y0) / (y1 - y0) * plotH }

        var o = standalone ? "<svg xmlns=\"http://www.w3.org/2000/svg\"" : "<svg"
        o += " class=\"chart\" id=\"chart-\(e(id))\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\""
        o += " font-family=\"sans-serif\" font-size=\"11\" role=\"img\" aria-label=\"\(e(title))\">\n"
        o += "<title>\(e(title))</title>\n"
        if standalone { o += "<rect width=\"100%\" height=\"100%\" fill=\"#ffffff\"/>\n" }
        o += "<text x=\"\(f(width / 2))\" y=\"18\" text-anchor=\"middle\" font-size=\"13\" font-weight=\"bold\" fill=\"#222222\">\(e(title))</text>\n"
        for (lx, r, s) in legend {
            let ly = 34 + Double(r) * 16
            o += "<g class=\"legend\"><line x1=\"\(f(lx))\" y1=\"\(f(ly))\" x2=\"\(f(lx + 24))\" y2=\"\(f(ly))\" stroke=\"\(s.color)\" stroke-width=\"2.5\""
            o += (s.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>"
            o += "<text x=\"\(f(lx + 30))\" y=\"\(f(ly + 4))\" fill=\"#222222\">\(e(s.label))</text></g>\n"
        }
        // grid, axes, ticks
        let yStep = yt.count > 1 ? yt[1] - yt[0] : 1, xStep = xt.count > 1 ? xt[1] - xt[0] : 1
        for v in yt {
            o += "<line x1=\"\(f(left))\" y1=\"\(f(py(v)))\" x2=\"\(f(left + plotW))\" y2=\"\(f(py(v)))\" stroke=\"#e4e4e4\" stroke-width=\"1\"/>"
            o += "<text x=\"\(f(left - 6))\" y=\"\(f(py(v) + 4))\" text-anchor=\"end\" fill=\"#444444\">\(Self.label(v, step: yStep))</text>\n"
        }
        for v in xt {
            o += "<line x1=\"\(f(px(v)))\" y1=\"\(f(top + plotH))\" x2=\"\(f(px(v)))\" y2=\"\(f(top + plotH + 5))\" stroke=\"#444444\" stroke-width=\"1\"/>"
            o += "<text x=\"\(f(px(v)))\" y=\"\(f(top + plotH + 18))\" text-anchor=\"middle\" fill=\"#444444\">\(Self.label(v, step: xStep))</text>\n"
        }
        o += "<path d=\"M\(f(left)) \(f(top))V\(f(top + plotH))H\(f(left + plotW))\" fill=\"none\" stroke=\"#444444\" stroke-width=\"1\"/>\n"
        o += "<text x=\"\(f(left + plotW / 2))\" y=\"\(f(height - 6))\" text-anchor=\"middle\" fill=\"#444444\">step</text>\n"
        // the lines, markers where there are few points
        for s in series {
            let pts = s.points.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            o += "<polyline class=\"series\" data-label=\"\(e(s.label))\" fill=\"none\" stroke=\"\(s.color)\" stroke-width=\"2.5\""
            o += " stroke-linejoin=\"round\"" + (s.dashed ? " stroke-dasharray=\"6 4\"" : "") + " points=\"\(pts)\"/>\n"
            if s.points.count <= 40 {
                for p in s.points { o += "<circle cx=\"\(f(px(p.x)))\" cy=\"\(f(py(p.y)))\" r=\"3.5\" fill=\"\(s.color)\"/>" }
                o += "\n"
            }
        }
        o += "</svg>\n"
        return o
    }
}
