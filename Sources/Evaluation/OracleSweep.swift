import AutoDeco
import Foundation

/// The paper's Expert-Guided Tuning oracle (spec §6), tuned on the test set itself: T from 0.0 to
/// 1.0 in steps of 0.1 at P = 1, then P from 0.0 to 1.0 in steps of 0.1 at the best T.
public enum OracleSweep {
    public static let grid: [Float] = (0...10).map { Float($0) / 10 }

    /// The first stage's settings.
    public static var temperatureStage: [EvaluationMethod] { grid.map { .staticSampling(temperature: $0, topP: 1) } }

    /// The second stage's settings, at the first stage's best temperature.
    public static func topPStage(bestTemperature t: Float) -> [EvaluationMethod] { grid.map { .staticSampling(temperature: t, topP: $0) } }

    /// Whether the top-p stage's run at `topP` decodes exactly what the temperature stage's run at
    /// `bestTemperature` (P = 1) did, so its result can be reused instead of decoding it again:
    /// P = 1 itself, and every P at T = 0 (greedy decoding ignores P).
    public static func repeatsTemperatureStage(topP: Float, bestTemperature t: Float) -> Bool { topP == 1 || t == 0 }

    /// The best of a stage by mean pass@1. Ties go to the lower value (`preferHigher` false: the
    /// temperature stage) or to the higher one (the top-p stage: among equals, the least truncation;
    /// at T = 0 every P ties and P = 1 is reported).
    public static func best(_ points: [(value: Float, score: Double)], preferHigher: Bool = false) -> (value: Float, score: Double)? {
        points.reduce(nil) { best, p in
            guard let best else { return p }
            return p.score > best.score || (preferHigher && p.score == best.score) ? p : best
        }
    }
}

/// A chart of the sweep (the paper's Figure 3): pass@1 against T and against P side by side,
/// with horizontal lines for the methods to compare (AutoDeco, MeanShift).
public struct SweepChart {
    public var dataset: String
    public var temperaturePoints: [(x: Double, y: Double)]
    public var topPPoints: [(x: Double, y: Double)]
    public var bestTemperature: Double
    public var references: [(name: String, score: Double, color: String)]

    public init(dataset: String, temperaturePoints: [(x: Double, y: Double)], topPPoints: [(x: Double, y: Double)], bestTemperature: Double,
                references: [(name: String, score: Double, color: String)]) {
        self.dataset = dataset; self.temperaturePoints = temperaturePoints; self.topPPoints = topPPoints
        self.bestTemperature = bestTemperature; self.references = references
    }

    public func render() -> String {
        func chart(_ title: String, _ x: String, _ points: [(x: Double, y: Double)]) -> String {
            var series = [LineChartSVG.Series(name: "static", color: "#1f77b4", points: points)]
            for r in references { series.append(.init(name: r.name, color: r.color, points: [(0, r.score), (1, r.score)], dashed: true)) }
            return LineChartSVG(title: title, xLabel: x, yLabel: "pass@1 (%)", series: series).render()
        }
        let left = chart("\(dataset): pass@1 vs temperature (P = 1)", "temperature", temperaturePoints)
        let right = chart(String(format: "\(dataset): pass@1 vs top-p (T = %.1f)", bestTemperature), "top-p", topPPoints)
        let shifted = right.replacingOccurrences(of: "<svg ", with: "<svg x=\"720\" ", options: [], range: right.range(of: "<svg "))
        return "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"1440\" height=\"400\" viewBox=\"0 0 1440 400\">\n" + left + shifted + "</svg>\n"
    }
}
