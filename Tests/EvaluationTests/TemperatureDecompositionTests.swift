import Foundation
import Testing
import AutoDeco
import Evaluation

/// The decomposition against a direct computation: l(beta) by a naive softmax, its slope and
/// curvature by finite differences, the summary by its definitions.
struct TemperatureDecompositionTests {
    /// l(beta) = log softmax(beta z)[y], naively (no max shift: small logits).
    static func naiveLogLikelihood(_ z: [Float], _ y: Int, _ beta: Double) -> Double {
        let s = z.reduce(0.0) { $0 + exp(beta * Double($1)) }
        return beta * Double(z[y]) - log(s)
    }

    @Test(arguments: [(UInt64(1), 1.3, 0.9), (2, 2.0, 2.6), (3, 0.7, 0.7)])
    func termsMatchFiniteDifferences(seed: UInt64, meanBeta: Double, beta: Double) {
        var g = SeededGenerator(seed: seed)
        let z = (0..<9).map { _ in Float(g.nextUnit() * 6 - 3) }
        let y = Int(g.next() % 9)
        let t = z.withUnsafeBufferPointer { TemperatureDecomposition.token(logits: $0, label: y, beta: beta, meanBeta: meanBeta) }
        let l = { (b: Double) in Self.naiveLogLikelihood(z, y, b) }
        let h = 1e-4
        let slope = (l(meanBeta + h) - l(meanBeta - h)) / (2 * h)
        let curvature = -(l(meanBeta + 1e-3) - 2 * l(meanBeta) + l(meanBeta - 1e-3)) / 1e-6
        #expect(abs(t.g - slope) < 1e-6, "g \(t.g) vs dl/dbeta \(slope)")
        #expect(abs(t.v - curvature) < 1e-4, "v \(t.v) vs -d2l/dbeta2 \(curvature)")
        #expect(t.v > 0)
        #expect(abs(t.delta - (beta - meanBeta)) < 1e-15)
        #expect(abs(t.actualGain - (l(beta) - l(meanBeta))) < 1e-9)
        #expect(abs(t.approximateGain - (t.g * t.delta - 0.5 * t.v * t.delta * t.delta)) < 1e-12)
        let p: [Double] = z.map { exp(Double($0)) }
        let total: Double = p.reduce(0, +)
        let entropy: Double = -p.reduce(0.0) { $0 + $1 / total * log($1 / total) }
        #expect(abs(t.entropy - entropy) < 1e-9)
    }

    @Test func summaryFollowsItsDefinitions() {
        typealias T = TemperatureDecomposition.Token
        let tokens = [T(g: 1, v: 2, delta: 0.5, actualGain: 0.2, approximateGain: 0.25, entropy: 0.3),
                      T(g: -2, v: 1, delta: 0.5, actualGain: -1.1, approximateGain: -1.125, entropy: 1.5),
                      T(g: 0.5, v: 4, delta: -0.25, actualGain: -0.3, approximateGain: -0.25, entropy: 5)]
        let s = TemperatureDecomposition.Summary(tokens)
        #expect(s.tokens == 3)
        let alignment: Double = (0.5 - 1 - 0.125) / 3, penalty: Double = (0.25 + 0.125 + 0.125) / 3
        let gg: Double = (1 + 4 + 0.25) / 3, dd: Double = (0.25 + 0.25 + 0.0625) / 3
        let oracle: Double = (0.25 + 2 + 0.03125) / 3, actual: Double = (0.2 - 1.1 - 0.3) / 3
        #expect(abs(s.alignment - alignment) < 1e-12)
        #expect(abs(s.curvaturePenalty - penalty) < 1e-12)
        #expect(abs(s.efficiency - alignment / (gg * dd).squareRoot()) < 1e-12)
        #expect(abs(s.oracleGain - oracle) < 1e-12)
        #expect(abs(s.meanActualGain - actual) < 1e-12)
        // Penalty > alignment term: token 2 (0.125 > -1) and token 3 (0.125 > -0.125); not token 1 (0.25 < 0.5).
        #expect(abs(s.penaltyDominatesShare - 2.0 / 3) < 1e-12)
    }
}
