import Foundation
import Testing
import AutoDeco

/// Every hand-written gradient against central finite differences.
struct LossGradientTests {
    static func logits(_ n: Int, seed: UInt64, scale: Double) -> [Float] {
        var g = SeededGenerator(seed: seed)
        return (0..<n).map { _ in Float((g.nextUnit() * 2 - 1) * scale) }
    }

    static func close(_ a: Double, _ b: Double, _ tol: Double = 1e-4) -> Bool { abs(a - b) <= tol * max(1, abs(a), abs(b)) }

    @Test func temperatureLossGradient() {
        for (seed, t) in [(1, 0.7), (2, 1.3), (3, 0.05), (4, 1.9)] as [(UInt64, Double)] {
            let z = Self.logits(300, seed: seed, scale: 6)
            z.withUnsafeBufferPointer { zb in
                let y = Int(seed * 37 % 300)
                let w = AutoDecoLoss.baseProbability(logits: zb, label: y)
                let (loss, dT) = AutoDecoLoss.temperature(logits: zb, label: y, temperature: t, weight: w)
                let h = 1e-5
                let fd = (AutoDecoLoss.temperature(logits: zb, label: y, temperature: t + h, weight: w).loss
                    - AutoDecoLoss.temperature(logits: zb, label: y, temperature: t - h, weight: w).loss) / (2 * h)
                #expect(loss.isFinite)
                #expect(Self.close(dT, fd), "T \(t): analytic \(dT) vs finite difference \(fd)")
            }
        }
        // Below the clamp the loss is flat in T.
        let z = Self.logits(50, seed: 9, scale: 3)
        z.withUnsafeBufferPointer { #expect(AutoDecoLoss.temperature(logits: $0, label: 3, temperature: 0.005, weight: 1).dT == 0) }
    }

    @Test func softTopPLossGradients() {
        // Label inside and outside the nucleus, flat and peaked logits.
        for (seed, t, p, scale) in [(1, 0.8, 0.5, 4.0), (2, 1.2, 0.9, 2.0), (3, 0.6, 0.3, 8.0), (4, 1.5, 0.7, 1.0)] as [(UInt64, Double, Double, Double)] {
            let z = Self.logits(200, seed: seed, scale: scale)
            z.withUnsafeBufferPointer { zb in
                for y in [Int(seed * 13 % 200), zb.indices.max { zb[$0] < zb[$1] }!] {
                    let w = AutoDecoLoss.baseProbability(logits: zb, label: y)
                    let r = AutoDecoLoss.topP(logits: zb, label: y, temperature: t, topP: p, weight: w)
                    let h = 1e-6
                    let fdT = (AutoDecoLoss.topP(logits: zb, label: y, temperature: t + h, topP: p, weight: w).loss
                        - AutoDecoLoss.topP(logits: zb, label: y, temperature: t - h, topP: p, weight: w).loss) / (2 * h)
                    let fdP = (AutoDecoLoss.topP(logits: zb, label: y, temperature: t, topP: p + h, weight: w).loss
                        - AutoDecoLoss.topP(logits: zb, label: y, temperature: t, topP: p - h, weight: w).loss) / (2 * h)
                    #expect(r.loss.isFinite && r.loss >= 0)
                    #expect(Self.close(r.dT, fdT, 1e-3), "seed \(seed) y \(y): dT \(r.dT) vs \(fdT)")
                    #expect(Self.close(r.dP, fdP, 1e-3), "seed \(seed) y \(y): dP \(r.dP) vs \(fdP)")
                }
            }
        }
    }

    @Test func softTopPLossBehavesAsIntended() {
        // A gold token far outside a small nucleus costs more than with a wide nucleus.
        let z: [Float] = [5, 4, 3, 0, -1, -2]
        z.withUnsafeBufferPointer { zb in
            let narrow = AutoDecoLoss.topP(logits: zb, label: 3, temperature: 1, topP: 0.3, weight: 1)
            let wide = AutoDecoLoss.topP(logits: zb, label: 3, temperature: 1, topP: 0.999, weight: 1)
            #expect(narrow.loss > wide.loss)
            #expect(narrow.dP < 0)  // widening the nucleus lowers the loss
            // Inside the nucleus (P = 1) the mask is 1: the loss is plain cross-entropy.
            let ce = -log(AutoDecoLoss.baseProbability(logits: zb, label: 3))
            #expect(abs(AutoDecoLoss.topP(logits: zb, label: 3, temperature: 1, topP: 1, weight: 1).loss - ce) < 1e-6)
        }
    }
}

/// Backpropagation through both heads against finite differences of the whole batch loss,
/// for entries of every parameter tensor.
struct HeadBackpropTests {
    static func batch(hidden H: Int, vocab V: Int, n: Int, seed: UInt64) -> [TrainingPosition] {
        var g = SeededGenerator(seed: seed)
        return (0..<n).map { i in
            TrainingPosition(hidden: (0..<H).map { _ in Float(g.nextUnit() * 2 - 1) },
                             logits: (0..<V).map { _ in Float((g.nextUnit() * 2 - 1) * 4) }, label: (i * 7) % V)
        }
    }

    @Test(arguments: [TrainingTargets(), TrainingTargets(temperature: true, topP: false), TrainingTargets(temperature: false, topP: true)])
    func gradientsMatchFiniteDifferences(targets: TrainingTargets) {
        let H = 6, V = 40
        var heads = AutoDecoHeads(hiddenSize: H, seed: 21)
        // Larger second-layer weights so the outputs move visibly with each parameter.
        heads.temperatureHead.second.weight = heads.temperatureHead.second.weight.map { $0 * 8 }
        heads.topPHead.second.weight = heads.topPHead.second.weight.map { $0 * 8 }
        let data = Self.batch(hidden: H, vocab: V, n: 5, seed: 3)
        let drop: (Int) -> Bool = { $0 % 2 == 0 }  // fixed masking for the check
        let r = heads.trainingStep(data, targets: targets, dropEasy: drop)
        func loss(_ h: AutoDecoHeads) -> Double { h.trainingStep(data, targets: targets, dropEasy: drop).totalLoss }

        for which in ["temperature", "topP"] {
            let trained = which == "temperature" ? targets.temperature : targets.topP
            let grad = which == "temperature" ? r.temperatureGradient.flat : r.topPGradient.flat
            let params = which == "temperature" ? heads.temperatureHead.flatParameters : heads.topPHead.flatParameters
            if !trained { #expect(grad.allSatisfy { $0 == 0 }); continue }
            let inputs = which == "temperature" ? H : H + 5
            let w1 = 256 * inputs
            // Entries of W1 (including the top-p head's feature columns), b1, W2 and b2.
            var indices = [0, 1, inputs - 1, inputs, w1 - 1, w1, w1 + 255, w1 + 256, w1 + 511, w1 + 512]
            for k in stride(from: 7, to: w1, by: 397) { indices.append(k) }
            var checked = 0
            for idx in indices {
                // Small steps: the losses are strongly curved in T and ReLU kinks must not be crossed.
                let h = 1e-4 * max(1, abs(Double(params[idx])))
                var plus = heads, minus = heads
                var pp = params, pm = params
                pp[idx] += Float(h); pm[idx] -= Float(h)
                let hp = Double(pp[idx]) - Double(params[idx]), hm = Double(params[idx]) - Double(pm[idx])
                if which == "temperature" { plus.temperatureHead.flatParameters = pp; minus.temperatureHead.flatParameters = pm }
                else { plus.topPHead.flatParameters = pp; minus.topPHead.flatParameters = pm }
                let fd = (loss(plus) - loss(minus)) / (hp + hm)
                let ok = abs(fd - grad[idx]) <= 2e-2 * max(abs(fd), abs(grad[idx])) + 1e-6
                #expect(ok, "\(which) parameter \(idx): analytic \(grad[idx]) vs finite difference \(fd)")
                checked += 1
            }
            #expect(checked == indices.count && checked >= 14)
        }
        #expect(r.positions == 5)
    }

    @Test func adamWStepsDownhillAndFollowsTheSchedule() {
        var opt = AdamW(learningRate: 0.1, weightDecay: 0, warmupSteps: 2, totalSteps: 10)
        #expect(opt.rate(at: 1) == 0.05 && opt.rate(at: 2) == 0.1)
        #expect(abs(opt.rate(at: 10) - 0.01) < 1e-12)
        var x: [Float] = [3, -2]
        for _ in 0..<10 { opt.update(&x, x.map { 2 * Double($0) }) }  // gradient of |x|^2
        #expect(abs(x[0]) < 3 && abs(x[1]) < 2)
    }
}
