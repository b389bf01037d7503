import Foundation
import Kernels
import Models

/// What the heads do on held-out data, with teacher forcing over the supervised positions of a
/// data set (spec §4 and issue #4, item 4): the two training losses, the spread of the predicted
/// T and P, and the negative log-likelihood of the gold tokens under the base at T = 1, P = 1,
/// under the heads, and under static (T, P) settings.
public struct HeldOutMetrics: Sendable, Codable {
    public struct StaticPoint: Sendable, Codable, Equatable {
        public var temperature: Double
        public var topP: Double
        /// Mean -ln q~[y] with the soft top-p mask (the training loss's distribution, unweighted).
        public var nll: Double
    }
    public var positions = 0
    /// The training losses (w-weighted; loss_T over all positions, without easy-token masking).
    public var temperatureLoss = 0.0
    public var topPLoss = 0.0
    public var meanTemperature = 0.0, stdTemperature = 0.0
    public var meanTopP = 0.0, stdTopP = 0.0
    /// Mean -ln softmax(z)[y]: the base at T = 1, P = 1.
    public var baseNLL = 0.0
    /// Mean -ln softmax(z / T)[y] with the heads' T (temperature alone).
    public var headsTemperatureNLL = 0.0
    /// Mean -ln q~[y] with the heads' T and P (soft top-p mask).
    public var headsNLL = 0.0
    /// Share of gold tokens inside the hard top-p nucleus of the heads' (T, P).
    public var headsNucleusCoverage = 0.0
    public var grid: [StaticPoint] = []

    public var bestStatic: StaticPoint? { grid.min { $0.nll < $1.nll } }
}

extension AutoDecoHeads {
    /// The default static grid: T in {0.4, 0.6, 0.8, 1.0, 1.2} x P in {0.9, 0.95, 1.0}.
    public static let staticGrid: [(Double, Double)] = [0.4, 0.6, 0.8, 1.0, 1.2].flatMap { t in [0.9, 0.95, 1.0].map { (t, $0) } }

    /// Evaluates on `data` (at most `limit` positions, taken evenly); `grid` adds static settings.
    public func evaluate(on data: BaseActivations, model: LlamaModel, limit: Int? = nil,
                         grid: [(Double, Double)] = [], progress: (Int, Int) -> Void = { _, _ in }) -> HeldOutMetrics {
        let N = data.positionCount, V = model.config.vocab
        let n = min(limit ?? N, N)
        let chosen = (0..<n).map { $0 * N / max(n, 1) }
        struct Sums { var lT = 0.0, lP = 0.0, t = 0.0, t2 = 0.0, p = 0.0, p2 = 0.0, base = 0.0, hT = 0.0, h = 0.0, cover = 0.0; var grid: [Double] }
        let threads = model.pool.threadCount
        var sums = [Sums](repeating: Sums(grid: [Double](repeating: 0, count: grid.count)), count: threads)
        let scratch = (0..<threads).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: V) }
        defer { scratch.forEach { $0.deallocate() } }
        let lossWorkspaces = (0..<threads).map { _ in LossWorkspace() }
        sums.withUnsafeMutableBufferPointer { out in
            TeacherForcing.forEachPosition(data, model: model, positions: chosen, progress: progress) { thread, r, h, z, y in
                var s = out[thread]
                let w = Double(data.baseProbability[r]), lw = lossWorkspaces[thread]
                let t = temperature(hidden: h)
                let f = LogitFeatures(logits: z, temperature: t, scratch: scratch[thread])
                let p = topP(hidden: h, temperature: t, features: f)
                let T = Double(t), P = Double(p)
                s.t += T; s.t2 += T * T; s.p += P; s.p2 += P * P
                // Unweighted once; the training losses are these times w.
                let ce = AutoDecoLoss.temperature(logits: z, label: y, temperature: T, weight: 1).loss
                let soft = AutoDecoLoss.topP(logits: z, label: y, temperature: T, topP: P, weight: 1, workspace: lw).loss
                s.lT += w * ce; s.hT += ce
                s.lP += w * soft; s.h += soft
                s.base += -log(AutoDecoLoss.baseProbability(logits: z, label: y))
                if AutoDecoLoss.nucleusContains(logits: z, label: y, temperature: T, topP: P) { s.cover += 1 }
                for (g, (gt, gp)) in grid.enumerated() {
                    s.grid[g] += AutoDecoLoss.topP(logits: z, label: y, temperature: gt, topP: gp, weight: 1, workspace: lw).loss
                }
                out[thread] = s
            }
        }
        var total = Sums(grid: [Double](repeating: 0, count: grid.count))
        for s in sums {
            total.lT += s.lT; total.lP += s.lP; total.t += s.t; total.t2 += s.t2; total.p += s.p; total.p2 += s.p2
            total.base += s.base; total.hT += s.hT; total.h += s.h; total.cover += s.cover
            for g in grid.indices { total.grid[g] += s.grid[g] }
        }
        let c = Double(max(n, 1))
        var m = HeldOutMetrics()
        m.positions = n
        m.temperatureLoss = total.lT / c; m.topPLoss = total.lP / c
        m.meanTemperature = total.t / c; m.stdTemperature = max(0, total.t2 / c - m.meanTemperature * m.meanTemperature).squareRoot()
        m.meanTopP = total.p / c; m.stdTopP = max(0, total.p2 / c - m.meanTopP * m.meanTopP).squareRoot()
        m.baseNLL = total.base / c; m.headsTemperatureNLL = total.hT / c; m.headsNLL = total.h / c
        m.headsNucleusCoverage = total.cover / c
        m.grid = grid.enumerated().map { HeldOutMetrics.StaticPoint(temperature: $1.0, topP: $1.1, nll: total.grid[$0] / c) }
        return m
    }
}
