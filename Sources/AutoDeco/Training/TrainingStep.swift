import Foundation

/// One supervised position: the frozen base's final hidden state and logits, and the gold next token.
public struct TrainingPosition {
    public var hidden: [Float]   // [H]
    public var logits: [Float]   // [V]
    public var label: Int
    public init(hidden: [Float], logits: [Float], label: Int) { self.hidden = hidden; self.logits = logits; self.label = label }
}

/// Which heads train. A frozen head still predicts, and its prediction still enters the losses.
public struct TrainingTargets: Sendable, Equatable {
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
        struct Cache {
            var sT: Double, preT: [Double], p: Double, preP: [Double], pInput: [Float]
            var keptT: Bool, dTfromT: Double, dTfromP: Double, dP: Double
        }
        let H = hiddenSize
        var caches = [Cache]()
        caches.reserveCapacity(batch.count)
        var sumT = 0.0, sumP = 0.0, kept = 0, sumTemp = 0.0, sumTopP = 0.0
        var scratch = [Float](repeating: 0, count: batch.first?.logits.count ?? 0)
        for (i, pos) in batch.enumerated() {
            let (sT, preT) = temperatureHead.forwardForTraining(pos.hidden)
            let t = 2 * sT
            let f = pos.logits.withUnsafeBufferPointer { l in
                scratch.withUnsafeMutableBufferPointer { LogitFeatures(logits: l, temperature: Float(t), scratch: $0.baseAddress!) }
            }
            let pInput = pos.hidden + [Float(t), f.maxProb, f.entropy, f.probVariance, f.top5Sum]
            let (p, preP) = topPHead.forwardForTraining(pInput)
            sumTemp += t; sumTopP += p
            var c = Cache(sT: sT, preT: preT, p: p, preP: preP, pInput: pInput, keptT: false, dTfromT: 0, dTfromP: 0, dP: 0)
            pos.logits.withUnsafeBufferPointer { l in
                let w = AutoDecoLoss.baseProbability(logits: l, label: pos.label)
                let easy = l.indices.max { l[$0] < l[$1] } == pos.label
                if targets.temperature && !(easy && dropEasy(i)) {
                    let r = AutoDecoLoss.temperature(logits: l, label: pos.label, temperature: t, weight: w)
                    sumT += r.loss; kept += 1
                    c.keptT = true; c.dTfromT = r.dT
                }
                if targets.topP {
                    let r = AutoDecoLoss.topP(logits: l, label: pos.label, temperature: t, topP: p, weight: w)
                    sumP += r.loss
                    c.dTfromP = r.dT; c.dP = r.dP
                }
            }
            caches.append(c)
        }
        let n = Double(max(batch.count, 1)), kT = Double(max(kept, 1))
        var gT = HeadGradient(inputs: H), gP = HeadGradient(inputs: H + 5)
        for (pos, c) in zip(batch, caches) {
            if targets.temperature {
                let dLdT = (c.keptT ? c.dTfromT / kT : 0) + c.dTfromP / n
                temperatureHead.backward(pos.hidden, output: c.sT, pre: c.preT, dOutput: 2 * dLdT, into: &gT)  // T = 2 sigmoid
            }
            if targets.topP {
                topPHead.backward(c.pInput, output: c.p, pre: c.preP, dOutput: c.dP / n, into: &gP)
            }
        }
        return TrainingStepResult(temperatureLoss: kept > 0 ? sumT / kT : 0, topPLoss: sumP / n,
                                  temperatureGradient: gT, topPGradient: gP, keptForTemperature: kept, positions: batch.count,
                                  meanTemperature: sumTemp / n, meanTopP: sumTopP / n)
    }
}
