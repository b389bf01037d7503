import Foundation

/// A small self-contained SVG line chart (axes, ticks, legend), for training curves and sweeps.
public struct LineChartSVG {
    public struct Series {
        public var name: String
        public var color: String
        public var points: [(x: Double, y: Double)]
        public var dashed: Bool
        public init(name: String, color: String, points: [(x: Double, y: Double)], dashed: Bool = false) {
            self.name = name; self.color = color; self.points = points; self.dashed = dashed
        }
    }

    public var title: String
    public var xLabel: String
    public var yLabel: String
    public var series: [Series]
    public var width = 720.0, height = 400.0

    public init(title: String, xLabel: String, yLabel: String, series: [Series]) {
        self.title = title; self.xLabel = xLabel; self.yLabel = yLabel; self.series = series
    }

    public func render() -> String {
        let all = series.flatMap(\.points).filter { $0.x.isFinite && $0.y.isFinite }
        let left = 64.0, right = 160.0, top = 36.0, bottom = 48.0
        let pw = width - left - right, ph = height - top - bottom
        var x0 = all.map(\.x).min() ?? 0, x1 = all.map(\.x).max() ?? 1
        var y0 = all.map(\.y).min() ?? 0, y1 = all.map(\.y).max() ?? 1
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { y0 -= 0.5; y1 += 0.5 }
        let pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad
        if x0 == x1 { x0 -= 1 }
        func px(_ x: Double) -> Double { left + (x - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { top + (1 - (y - y0) / (y1 - y0)) * ph }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height))\" viewBox=\"0 0 \(Int(width)) \(Int(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(f(left))\" y=\"22\" font-size=\"15\" font-weight=\"bold\">\(esc(title))</text>\n"
        // Grid and ticks.
        for i in 0...5 {
            let yv = y0 + (y1 - y0) * Double(i) / 5, y = py(yv)
            s += "<line x1=\"\(f(left))\" y1=\"\(f(y))\" x2=\"\(f(left + pw))\" y2=\"\(f(y))\" stroke=\"#e5e5e5\"/>\n"
            s += "<text x=\"\(f(left - 6))\" y=\"\(f(y + 4))\" text-anchor=\"end\">\(Self.tick(yv))</text>\n"
            let xv = x0 + (x1 - x0) * Double(i) / 5, x = px(xv)
            s += "<text x=\"\(f(x))\" y=\"\(f(top + ph + 16))\" text-anchor=\"middle\">\(Self.tick(xv))</text>\n"
        }
        s += "<rect x=\"\(f(left))\" y=\"\(f(top))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#888\"/>\n"
        s += "<text x=\"\(f(left + pw / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        s += "<text transform=\"translate(16 \(f(top + ph / 2))) rotate(-90)\" text-anchor=\"middle\">\(esc(yLabel))</text>\n"
        for (i, ser) in series.enumerated() {
            let pts = ser.points.filter { $0.x.isFinite && $0.y.isFinite }
            let dash = ser.dashed ? " stroke-dasharray=\"6 4\"" : ""
            if pts.count == 1 {
                s += "<circle cx=\"\(f(px(pts[0].x)))\" cy=\"\(f(py(pts[0].y)))\" r=\"3\" fill=\"\(ser.color)\"/>\n"
            } else if !pts.isEmpty {
                s += "<polyline fill=\"none\" stroke=\"\(ser.color)\" stroke-width=\"1.8\"\(dash) points=\""
                    + pts.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ") + "\"/>\n"
            }
            let ly = top + 14 + Double(i) * 18
            s += "<line x1=\"\(f(left + pw + 12))\" y1=\"\(f(ly - 4))\" x2=\"\(f(left + pw + 36))\" y2=\"\(f(ly - 4))\" stroke=\"\(ser.color)\" stroke-width=\"2\"\(dash)/>\n"
            s += "<text x=\"\(f(left + pw + 42))\" y=\"\(f(ly))\">\(esc(ser.name))</text>\n"
        }
        return s + "</svg>\n"
    }

    static func tick(_ v: Double) -> String {
        let a = abs(v)
        if a >= 1000 || v == v.rounded() && a >= 10 { return String(format: "%.0f", v) }
        if a >= 1 { return String(format: "%.2f", v) }
        return String(format: "%.3f", v)
    }
}
