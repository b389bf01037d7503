import Foundation

/// A self-contained HTML page (inline CSS and SVG, no scripts, no network) that shows a
/// generation the way the paper's Figure 5 does: the text with every token shaded by the
/// temperature it was sampled with, and the temperature and top-p curves over positions.
///
/// ```swift
/// let page = TraceHTML(title: "2+3", prompt: "What is 2+3?", tokens: tokens).render()
/// ```
public struct TraceHTML {
    public struct Token {
        public var text: String
        public var temperature: Float
        public var topP: Float
        public init(text: String, temperature: Float, topP: Float) { self.text = text; self.temperature = temperature; self.topP = topP }
    }

    public var title: String
    public var prompt: String
    public var tokens: [Token]
    /// Extra lines for the header (model, heads, settings).
    public var details: [String]

    public init(title: String, prompt: String, tokens: [Token], details: [String] = []) {
        self.title = title; self.prompt = prompt; self.tokens = tokens; self.details = details
    }

    public func render() -> String {
        let ts = tokens.map(\.temperature), ps = tokens.map(\.topP)
        func stats(_ v: [Float]) -> String {
            guard let lo = v.min(), let hi = v.max() else { return "n/a" }
            return String(format: "mean %.3f, range %.3f-%.3f", v.reduce(0, +) / Float(v.count), lo, hi)
        }
        var html = """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>
        body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 60em; color: #222; }
        h1 { font-size: 1.3em; } .details { color: #555; font-size: 0.9em; }
        .prompt { background: #f4f4f4; padding: 0.6em; white-space: pre-wrap; border-radius: 4px; }
        .text { line-height: 1.9; white-space: pre-wrap; font-family: ui-monospace, monospace; font-size: 0.95em;
                border: 1px solid #ddd; padding: 0.8em; border-radius: 4px; }
        .text span { border-radius: 2px; }
        .legend { display: flex; align-items: center; gap: 0.5em; font-size: 0.85em; color: #555; margin: 0.5em 0; }
        .bar { width: 16em; height: 0.9em; background: linear-gradient(to right, \(color(0)), \(color(1)), \(color(2))); }
        svg { display: block; margin: 1em 0; } svg text { font-size: 11px; fill: #444; }
        </style></head><body>
        <h1>\(escape(title))</h1>
        <div class="details">\(details.map(escape).joined(separator: "<br>"))<br>\(tokens.count) tokens; temperature \(stats(ts)); top-p \(stats(ps))</div>
        <h2>Prompt</h2><div class="prompt">\(escape(prompt))</div>
        <h2>Generation</h2>
        <div class="legend">temperature 0<span class="bar"></span>2 (hover a token for its values)</div>
        <div class="text">
        """
        for (i, t) in tokens.enumerated() {
            html += "<span style=\"background:\(color(t.temperature))\" title=\"#\(i): T=\(String(format: "%.3f", t.temperature)), P=\(String(format: "%.3f", t.topP))\">\(escape(t.text))</span>"
        }
        html += "</div>\n<h2>Per-token temperature and top-p</h2>\n"
        html += chart(ts, label: "temperature", maxY: max(2, Double(ts.max() ?? 0)), stroke: "#c0392b")
        html += chart(ps, label: "top-p", maxY: 1, stroke: "#2471a3")
        html += "</body></html>\n"
        return html
    }

    /// A line chart of `values` over token positions, with axes and gridlines.
    private func chart(_ values: [Float], label: String, maxY: Double, stroke: String) -> String {
        let w = 900.0, h = 220.0, left = 50.0, right = 15.0, top = 15.0, bottom = 35.0
        let pw = w - left - right, ph = h - top - bottom
        let n = max(values.count - 1, 1)
        func x(_ i: Int) -> Double { left + pw * Double(i) / Double(n) }
        func y(_ v: Double) -> Double { top + ph * (1 - min(max(v / maxY, 0), 1)) }
        var svg = "<svg width=\"\(Int(w))\" height=\"\(Int(h))\" viewBox=\"0 0 \(Int(w)) \(Int(h))\" xmlns=\"http://www.w3.org/2000/svg\" role=\"img\" aria-label=\"\(label) per token\">\n"
        for k in 0...4 {
            let v = maxY * Double(k) / 4
            svg += String(format: "<line x1=\"%.1f\" y1=\"%.1f\" x2=\"%.1f\" y2=\"%.1f\" stroke=\"#e5e5e5\"/>", left, y(v), w - right, y(v))
            svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%.2f</text>\n", left - 6, y(v) + 4, v)
        }
        let ticks = Swift.stride(from: 0, through: n, by: max(1, n / 8))
        for i in ticks { svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>", x(i), h - bottom + 16, i) }
        svg += String(format: "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">token position</text>\n", left + pw / 2, h - 4)
        svg += String(format: "<text x=\"12\" y=\"%.1f\" transform=\"rotate(-90 12 %.1f)\" text-anchor=\"middle\">%@</text>\n", top + ph / 2, top + ph / 2, label)
        svg += String(format: "<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"none\" stroke=\"#999\"/>\n", left, top, pw, ph)
        if !values.isEmpty {
            let pts = values.enumerated().map { String(format: "%.1f,%.1f", x($0.offset), y(Double($0.element))) }.joined(separator: " ")
            svg += "<polyline fill=\"none\" stroke=\"\(stroke)\" stroke-width=\"1.5\" points=\"\(pts)\"/>\n"
        }
        return svg + "</svg>\n"
    }

    /// Blue (cold, T = 0) through pale yellow (T = 1) to red (hot, T = 2).
    private func color(_ t: Float) -> String {
        let u = Double(min(max(t, 0), 2)) / 2
        let (r, g, b): (Double, Double, Double) = u < 0.5
            ? (120 + 270 * u, 170 + 150 * u, 255 - 100 * u)
            : (255, 245 - 290 * (u - 0.5), 205 - 290 * (u - 0.5))
        return String(format: "rgb(%d,%d,%d)", Int(min(r, 255)), Int(min(g, 255)), Int(max(b, 0)))
    }

    private func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }
}
