import Foundation
import Kernels

/// One supervised position: the frozen base's final hidden state and logits, and the gold next token.
public struct TrainingPosition {
    public var hidden: [Float]   // [H]
    public var logits: [Float]   // [V]
    public var label: Int
    public init(hidden: [Float], logits: [Float], label: Int) { self.hidden = hidden; self.logits = logits; self.label = label }
}

/// Supervised positions in flat arrays, with what depends only on the frozen base precomputed:
/// the weight w = softmax(z)[y] and whether the position is easy (argmax z = y).
public struct TrainingBatch {
    public var hidden: [Float]      // [N, H]
    public var logits: [Float]      // [N, V]
    public var labels: [Int32]      // [N]
    public var baseProbability: [Double]  // [N]
    public var easy: [Bool]         // [N]
    public var count: Int { labels.count }

    public init(hidden: [Float], logits: [Float], labels: [Int32], baseProbability: [Double], easy: [Bool]) {
        self.hidden = hidden; self.logits = logits; self.labels = labels; self.baseProbability = baseProbability; self.easy = easy
    }

    /// Computes w and the easy flags from the logits.
    public init(_ positions: [TrainingPosition]) {
        hidden = positions.flatMap(\.hidden); logits = positions.flatMap(\.logits)
        labels = positions.map { Int32($0.label) }
        baseProbability = positions.map { p in p.logits.withUnsafeBufferPointer { AutoDecoLoss.baseProbability(logits: $0, label: p.label) } }
        easy = positions.map { p in p.logits.indices.max { p.logits[$0] < p.logits[$1] } == p.label }
    }
}

/// Which heads train. A frozen head still predicts, and its prediction still enters the losses.
public struct TrainingTargets: Sendable, Equatable, Codable {
    public var temperature: Bool
    public var topP: Bool
    public init(temperature: Bool = true, topP: Bool = true) { self.temperature = temperature; self.topP = topP }
}

/// Losses and gradients of one batch.
public struct TrainingStepResult {
    public var temperatureLoss: Double
    public var topPLoss: Double
    public var temperatureGradient: HeadGradient
    public var topPGradient: HeadGradient
    public var keptForTemperature: Int
    public var positions: Int
    public var meanTemperature: Double
    public var meanTopP: Double

    public var totalLoss: Double { temperatureLoss + topPLoss }
}

extension AutoDecoHeads {
    /// The losses of spec section 4 over a batch of positions and their gradients with respect to
    /// every parameter of the trained heads: loss_T = mean over the positions kept by easy-token
    /// masking of w CE(z / T, y); loss_P = mean over all positions of the soft top-p loss, with T
    /// not detached (its gradient reaches the temperature head); the top-p head reads the detached
    /// T and the features computed with it. `dropEasy(i)` says whether an easy position (argmax of
    /// the base logits = gold token) is left out of loss_T; the trainer draws it with p = 0.6.
    public func trainingStep(_ batch: [TrainingPosition], targets: TrainingTargets = TrainingTargets(),
                             dropEasy: (Int) -> Bool) -> TrainingStepResult {
        let b = TrainingBatch(batch)
        return trainingStep(b, targets: targets, dropped: (0..<b.count).map { b.easy[$0] && dropEasy($0) })
    }

    /// The same over a flat batch; `dropped[i]`: position i is left out of loss_T. With a pool,
    /// positions are split across its threads (each with its own gradient sums).
    public func trainingStep(_ batch: TrainingBatch, targets: TrainingTargets = TrainingTargets(), dropped: [Bool],
                             pool: ThreadPool? = nil) -> TrainingStepResult {
        let H = hiddenSize, V = batch.logits.count / max(batch.count, 1), N = batch.count
        // Per position: what the backward pass needs.
        struct Cache {
            var sT = 0.0, preT: [Double] = [], p = 0.0, preP: [Double] = [], pInput: [Float] = []
            var keptT = false, dTfromT = 0.0, dTfromP = 0.0, dP = 0.0, lossT = 0.0, lossP = 0.0, t = 0.0
        }
        var caches = [Cache](repeating: Cache(), count: N)
        let threads = pool?.threadCount ?? 1
        caches.withUnsafeMutableBufferPointer { cachesBuffer in
            let cachesOut = cachesBuffer.baseAddress!
            batch.hidden.withUnsafeBufferPointer { hiddenAll in
                batch.logits.withUnsafeBufferPointer { logitsAll in
                    let forward = { (range: Range<Int>) in
                        var scratch = [Float](repeating: 0, count: V)
                        let lossWorkspace = LossWorkspace()
                        for i in range {
                            let h = Array(hiddenAll[(i * H)..<((i + 1) * H)])
                            let l = UnsafeBufferPointer(rebasing: logitsAll[(i * V)..<((i + 1) * V)])
                            let y = Int(batch.labels[i]), w = batch.baseProbability[i]
                            var c = Cache()
                            (c.sT, c.preT) = temperatureHead.forwardForTraining(h)
                            c.t = 2 * c.sT
                            let f = scratch.withUnsafeMutableBufferPointer {
                                LogitFeatures(logits: l, temperature: Float(c.t), scratch: $0.baseAddress!)
                            }
                            c.pInput = h + [Float(c.t), f.maxProb, f.entropy, f.probVariance, f.top5Sum]
                            (c.p, c.preP) = topPHead.forwardForTraining(c.pInput)
                            if targets.temperature && !dropped[i] {
                                let r = AutoDecoLoss.temperature(logits: l, label: y, temperature: c.t, weight: w)
                                c.keptT = true; c.lossT = r.loss; c.dTfromT = r.dT
                            }
                            if targets.topP {
                                let r = AutoDecoLoss.topP(logits: l, label: y, temperature: c.t, topP: c.p, weight: w, workspace: lossWorkspace)
                                c.lossP = r.loss; c.dTfromP = r.dT; c.dP = r.dP
                            }
                            cachesOut[i] = c
                        }
                    }
                    if let pool, N > 1 { pool.parallelFor(N, forward) } else { forward(0..<N) }
                }
            }
        }
        let kept = caches.filter(\.keptT).count
        let n = Double(max(N, 1)), kT = Double(max(kept, 1))
        // Backward: per-thread gradient sums, added at the end.
        var partsT = [HeadGradient](repeating: HeadGradient(inputs: H), count: threads)
        var partsP = [HeadGradient](repeating: HeadGradient(inputs: H + 5), count: threads)
        let backward = { (range: Range<Int>, gT: inout HeadGradient, gP: inout HeadGradient) in
            for i in range {
                let c = caches[i]
                let h = Array(batch.hidden[(i * H)..<((i + 1) * H)])
                if targets.temperature {
                    let dLdT = (c.keptT ? c.dTfromT / kT : 0) + c.dTfromP / n
                    temperatureHead.backward(h, output: c.sT, pre: c.preT, dOutput: 2 * dLdT, into: &gT)  // T = 2 sigmoid
                }
                if targets.topP { topPHead.backward(c.pInput, output: c.p, pre: c.preP, dOutput: c.dP / n, into: &gP) }
            }
        }
        if let pool, N > 1 {
            partsT.withUnsafeMutableBufferPointer { pt in
                partsP.withUnsafeMutableBufferPointer { pp in
                    pool.run { thread in
                        backward(ThreadPool.part(thread, of: threads, count: N), &pt[thread], &pp[thread])
                    }
                }
            }
        } else {
            backward(0..<N, &partsT[0], &partsP[0])
        }
        var gT = partsT[0], gP = partsP[0]
        for k in 1..<threads { gT.add(partsT[k]); gP.add(partsP[k]) }
        return TrainingStepResult(temperatureLoss: kept > 0 ? caches.reduce(0) { $0 + $1.lossT } / kT : 0,
                                  topPLoss: caches.reduce(0) { $0 + $1.lossP } / n,
                                  temperatureGradient: gT, topPGradient: gP, keptForTemperature: kept, positions: N,
                                  meanTemperature: caches.reduce(0) { $0 + $1.t } / n, meanTopP: caches.reduce(0) { $0 + $1.p } / n)
    }
}
