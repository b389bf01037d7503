import Foundation

/// Mean and standard deviation (population, as numpy's default) of a list of values.
public struct MeanStd: Sendable, Equatable, Codable {
    public var mean: Double
    public var std: Double
    public var count: Int

    public init(_ values: [Double]) {
        count = values.count
        guard !values.isEmpty else { mean = .nan; std = .nan; return }
        mean = values.reduce(0, +) / Double(values.count)
        let m = mean
        std = (values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / Double(values.count)).squareRoot()
    }

    /// "37.5 ± 2.1" in percent.
    public var percent: String { String(format: "%.1f ± %.1f", 100 * mean, 100 * std) }
}
