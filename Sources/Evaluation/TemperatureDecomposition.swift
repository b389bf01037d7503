import AutoDeco
import Foundation

/// The critique's inverse-temperature decomposition (spec §7): does a per-token temperature help
/// through token-level control, or only by moving the mean? With beta_t = 1 / T_t, its mean
/// beta_bar and delta_t = beta_t - beta_bar, the gold token's log-likelihood
/// l_t(beta) = beta z_y - logsumexp(beta z) is concave in beta, and around beta_bar
/// l_t(beta_t) - l_t(beta_bar) ~ g_t delta_t - v_t delta_t^2 / 2 with g_t = z_y - E_{p_beta_bar}[z]
/// (the slope) and v_t = Var_{p_beta_bar}[z] (the curvature). All sums are exact over the whole
/// vocabulary, in double precision.
public enum TemperatureDecomposition {
    /// The terms of one token.
    public struct Token: Sendable, Equatable {
        public var g: Double
        public var v: Double
        public var delta: Double
        /// l(beta_t) - l(beta_bar), exact.
        public var actualGain: Double
        /// g delta - v delta^2 / 2.
        public var approximateGain: Double
        /// Entropy of the base distribution softmax(z) (T = 1), in nats: the bins of the report.
        public var entropy: Double

        public init(g: Double, v: Double, delta: Double, actualGain: Double, approximateGain: Double, entropy: Double) {
            self.g = g; self.v = v; self.delta = delta; self.actualGain = actualGain; self.approximateGain = approximateGain
            self.entropy = entropy
        }
    }

    /// l(beta) = beta z_y - logsumexp(beta z).
    public static func logLikelihood(_ z: UnsafeBufferPointer<Float>, label y: Int, beta: Double) -> Double {
        let m = Double(z.max() ?? 0)
        var s = 0.0
        for x in z { s += exp(beta * (Double(x) - m)) }
        return beta * (Double(z[y]) - m) - log(s)
    }

    /// Mean and variance of the logits under softmax(beta z) (two passes: the variance around the
    /// mean, not E[z^2] - E[z]^2, which cancels badly for peaked distributions).
    static func moments(_ z: UnsafeBufferPointer<Float>, beta: Double) -> (mean: Double, variance: Double) {
        let m = Double(z.max() ?? 0)
        var s = 0.0, sz = 0.0
        for x in z { let e = exp(beta * (Double(x) - m)); s += e; sz += e * Double(x) }
        let mean = sz / s
        var sv = 0.0
        for x in z { let d = Double(x) - mean; sv += exp(beta * (Double(x) - m)) * d * d }
        return (mean, sv / s)
    }

    public static func token(logits z: UnsafeBufferPointer<Float>, label y: Int, beta: Double, meanBeta: Double) -> Token {
        let at = moments(z, beta: meanBeta)
        let g = Double(z[y]) - at.mean, v = at.variance, delta = beta - meanBeta
        let actual = logLikelihood(z, label: y, beta: beta) - logLikelihood(z, label: y, beta: meanBeta)
        return Token(g: g, v: v, delta: delta, actualGain: actual, approximateGain: g * delta - 0.5 * v * delta * delta,
                     entropy: softmaxEntropy(z))
    }

    /// The critique's summary of a set of tokens.
    public struct Summary: Sendable, Codable, Equatable {
        public var tokens: Int
        /// E[g delta].
        public var alignment: Double
        /// E[v delta^2 / 2].
        public var curvaturePenalty: Double
        /// E[g delta] / sqrt(E[g^2] E[delta^2]) in [-1, 1]: how well the per-token deviations line up with the slopes.
        public var efficiency: Double
        /// E[g^2 / (2 v)]: the gain of the best per-token beta under the quadratic model.
        public var oracleGain: Double
        public var meanActualGain: Double
        public var meanApproximateGain: Double
        /// Share of tokens whose curvature penalty exceeds their alignment term (the deviation hurts).
        public var penaltyDominatesShare: Double

        enum CodingKeys: String, CodingKey {
            case tokens, alignment, efficiency
            case curvaturePenalty = "curvature_penalty", oracleGain = "oracle_gain", meanActualGain = "mean_actual_gain"
            case meanApproximateGain = "mean_approximate_gain", penaltyDominatesShare = "penalty_dominates_share"
        }

        public init(_ t: [Token]) {
            let n = Double(max(t.count, 1))
            tokens = t.count
            alignment = t.reduce(0) { $0 + $1.g * $1.delta } / n
            curvaturePenalty = t.reduce(0) { $0 + 0.5 * $1.v * $1.delta * $1.delta } / n
            let gg = t.reduce(0) { $0 + $1.g * $1.g } / n, dd = t.reduce(0) { $0 + $1.delta * $1.delta } / n
            efficiency = gg > 0 && dd > 0 ? alignment / (gg * dd).squareRoot() : 0
            oracleGain = t.reduce(0) { $0 + ($1.v > 0 ? $1.g * $1.g / (2 * $1.v) : 0) } / n
            meanActualGain = t.reduce(0) { $0 + $1.actualGain } / n
            meanApproximateGain = t.reduce(0) { $0 + $1.approximateGain } / n
            penaltyDominatesShare = Double(t.filter { 0.5 * $0.v * $0.delta * $0.delta > $0.g * $0.delta }.count) / n
        }
    }

    /// Entropy bins (nats) of the report.
    public static let entropyBins: [(lower: Double, upper: Double)] = [(0, 0.1), (0.1, 0.5), (0.5, 1), (1, 2), (2, 4), (4, .infinity)]

    /// The result of `autodeco diagnose`.
    public struct Report: Sendable, Codable, Equatable {
        public struct Bin: Sendable, Codable, Equatable {
            public var lower: Double
            public var upper: Double
            public var summary: Summary
        }
        public var meanBeta: Double
        public var meanTemperature: Double
        public var overall: Summary
        public var byEntropy: [Bin]
        enum CodingKeys: String, CodingKey {
            case overall, meanBeta = "mean_beta", meanTemperature = "mean_temperature", byEntropy = "by_entropy"
        }
    }

    /// Per-token terms of the heads' temperatures over the supervised tokens of `data`.
    public static func compute(heads: AutoDecoHeads, data: BaseActivations, model: LlamaModel,
                               progress: (Int, Int) -> Void = { _, _ in }) -> (report: Report, tokens: [Token]) {
        let N = data.positionCount, H = data.hiddenSize
        // beta_t depends on the hidden state only: the mean comes first, without the logits.
        var betas = [Double](repeating: 0, count: N)
        data.hidden.withUnsafeBufferPointer { h in
            for i in 0..<N { betas[i] = 1 / Double(heads.temperature(hidden: h.baseAddress! + i * H)) }
        }
        let meanBeta = betas.reduce(0, +) / Double(max(N, 1))
        var tokens = [Token](repeating: Token(g: 0, v: 0, delta: 0, actualGain: 0, approximateGain: 0, entropy: 0), count: N)
        tokens.withUnsafeMutableBufferPointer { out in
            TeacherForcing.forEachPosition(data, model: model, progress: progress) { _, i, _, z, y in
                out[i] = token(logits: z, label: y, beta: betas[i], meanBeta: meanBeta)
            }
        }
        let bins = entropyBins.map { b in
            Report.Bin(lower: b.lower, upper: b.upper, summary: Summary(tokens.filter { $0.entropy >= b.lower && $0.entropy < b.upper }))
        }
        return (Report(meanBeta: meanBeta, meanTemperature: 1 / meanBeta, overall: Summary(tokens), byEntropy: bins), tokens)
    }
}

extension TemperatureDecomposition.Report {
    /// The report as a Markdown table: all tokens, then one row per non-empty entropy bin.
    public var markdown: String {
        var s = String(format: "%d tokens; mean beta %.4f (T = 1/mean beta = %.4f).\n\n", overall.tokens, meanBeta, meanTemperature)
        s += "| base entropy (nats) | tokens | alignment E[g·δ] | penalty E[½vδ²] | efficiency | oracle gain | mean gain (exact) | mean gain (quadratic) | penalty dominates |\n"
        s += "|---|---|---|---|---|---|---|---|---|\n"
        func row(_ label: String, _ x: TemperatureDecomposition.Summary) -> String {
            String(format: "| %@ | %d | %.5f | %.5f | %.3f | %.4f | %.5f | %.5f | %.1f%% |\n", label, x.tokens, x.alignment, x.curvaturePenalty,
                   x.efficiency, x.oracleGain, x.meanActualGain, x.meanApproximateGain, 100 * x.penaltyDominatesShare)
        }
        s += row("all", overall)
        for b in byEntropy where b.summary.tokens > 0 {
            s += row(b.upper.isFinite ? String(format: "[%.1f, %.1f)", b.lower, b.upper) : String(format: ">= %.1f", b.lower), b.summary)
        }
        return s
    }
}
