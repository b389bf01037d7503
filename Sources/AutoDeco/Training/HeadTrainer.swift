import Foundation
import Kernels
import Models

/// Hyperparameters of head training. Batches are counted in examples (sequences), as the paper does.
public struct TrainerSettings: Sendable, Equatable, Codable {
    public var learningRate = 2e-3
    public var weightDecay = 0.01
    public var warmupSteps = 10
    /// Examples per micro-batch; `accumulation` micro-batches make one optimizer step.
    public var batchSize = 8
    public var accumulation = 1
    public var epochs = 4
    /// Overrides `epochs` when set.
    public var maxSteps: Int?
    public var seed: UInt64 = 0
    public var targets = TrainingTargets()
    /// Share of easy positions (argmax = gold) left out of the temperature loss, fresh every step.
    public var easyDropProbability = 0.6

    public init() {}

    public func microBatchesPerEpoch(examples: Int) -> Int { (examples + batchSize - 1) / batchSize }

    public func totalSteps(examples: Int) -> Int {
        maxSteps ?? max(1, (epochs * microBatchesPerEpoch(examples: examples) + accumulation - 1) / accumulation)
    }
}

/// What one optimizer step did.
public struct TrainingRecord: Sendable {
    public var step: Int
    public var epoch: Double
    public var temperatureLoss: Double
    public var topPLoss: Double
    public var meanTemperature: Double
    public var meanTopP: Double
    public var positions: Int
    public var learningRate: Double
    public var seconds: Double
}

/// Trains the heads on cached base activations with the base frozen: each step gathers its
/// examples' positions, recomputes their logits with the LM head, runs the losses and their
/// gradients (threads over positions) and updates each trained head with AdamW. Everything a
/// step does is a function of the settings' seed and the step number, so a run resumed from a
/// checkpoint continues exactly as an uninterrupted one.
public final class HeadTrainer {
    public let model: LlamaModel
    public let data: BaseActivations
    public let settings: TrainerSettings
    public private(set) var heads: AutoDecoHeads
    public private(set) var step = 0
    private var optimizerT: AdamW, optimizerP: AdamW
    private let workspace: Workspace

    public init(model: LlamaModel, data: BaseActivations, heads: AutoDecoHeads, settings: TrainerSettings) {
        precondition(data.hiddenSize == model.config.hidden && heads.hiddenSize == data.hiddenSize, "hidden sizes")
        self.model = model; self.data = data; self.heads = heads; self.settings = settings
        let total = settings.totalSteps(examples: data.exampleCount)
        optimizerT = AdamW(learningRate: settings.learningRate, weightDecay: settings.weightDecay, warmupSteps: settings.warmupSteps, totalSteps: total)
        optimizerP = optimizerT
        workspace = model.makeWorkspace()
    }

    public var totalSteps: Int { settings.totalSteps(examples: data.exampleCount) }
    public var isFinished: Bool { step >= totalSteps }

    /// The examples of global micro-batch `g`: epoch g / M takes its own seeded permutation.
    func microBatch(_ g: Int) -> ArraySlice<Int> {
        let E = data.exampleCount, M = settings.microBatchesPerEpoch(examples: E)
        let epoch = g / M, within = g % M
        var order = Array(0..<E)
        var rng = SeededGenerator(seed: settings.seed &+ 0x5851_F42D_4C95_7F2D &* UInt64(epoch + 1))
        for i in stride(from: E - 1, to: 0, by: -1) { order.swapAt(i, Int(rng.next() % UInt64(i + 1))) }
        return order[(within * settings.batchSize)..<min(E, (within + 1) * settings.batchSize)]
    }

    /// The given positions of the data as a batch, with their logits recomputed by the LM head.
    public func batch(positions: [Int]) -> TrainingBatch {
        let H = data.hiddenSize
        var hidden = [Float](); hidden.reserveCapacity(positions.count * H)
        for p in positions { hidden += data.hidden[(p * H)..<((p + 1) * H)] }
        return TrainingBatch(hidden: hidden, logits: model.logits(hidden: hidden, workspace: workspace),
                             labels: positions.map { data.labels[$0] },
                             baseProbability: positions.map { Double(data.baseProbability[$0]) },
                             easy: positions.map { data.easy[$0] })
    }

    func positions(ofExamples examples: some Collection<Int>) -> [Int] {
        examples.flatMap { data.exampleOffsets[$0]..<data.exampleOffsets[$0 + 1] }
    }

    /// One optimizer step (`accumulation` micro-batches).
    public func trainStep() -> TrainingRecord {
        let start = Date()
        let H = data.hiddenSize
        var gT = HeadGradient(inputs: H), gP = HeadGradient(inputs: H + 5)
        var lossT = 0.0, lossP = 0.0, meanT = 0.0, meanP = 0.0, count = 0
        let acc = settings.accumulation
        for j in 0..<acc {
            let b = batch(positions: positions(ofExamples: microBatch(step * acc + j)))
            // Easy-token masking, drawn fresh for every step from (seed, step, micro-batch).
            var rng = SeededGenerator(seed: settings.seed ^ (UInt64(step * acc + j) &* 0x9E37_79B9_7F4A_7C15 &+ 1))
            let dropped = b.easy.map { $0 && rng.nextUnit() < settings.easyDropProbability }
            let r = heads.trainingStep(b, targets: settings.targets, dropped: dropped, pool: model.pool)
            var t = r.temperatureGradient, p = r.topPGradient
            t.scale(by: 1 / Double(acc)); p.scale(by: 1 / Double(acc))
            gT.add(t); gP.add(p)
            lossT += r.temperatureLoss / Double(acc); lossP += r.topPLoss / Double(acc)
            meanT += r.meanTemperature * Double(r.positions); meanP += r.meanTopP * Double(r.positions); count += r.positions
        }
        if settings.targets.temperature {
            var params = heads.temperatureHead.flatParameters
            optimizerT.update(&params, gT.flat)
            heads.temperatureHead.flatParameters = params
        }
        if settings.targets.topP {
            var params = heads.topPHead.flatParameters
            optimizerP.update(&params, gP.flat)
            heads.topPHead.flatParameters = params
        }
        step += 1
        let M = settings.microBatchesPerEpoch(examples: data.exampleCount)
        return TrainingRecord(step: step, epoch: Double(step * acc) / Double(M), temperatureLoss: lossT, topPLoss: lossP,
                              meanTemperature: meanT / Double(max(count, 1)), meanTopP: meanP / Double(max(count, 1)),
                              positions: count, learningRate: optimizerT.rate(at: step), seconds: Date().timeIntervalSince(start))
    }

    // MARK: - Checkpoints

    static let magic = "AUTODECO-TRAINER-2\n"

    /// Everything needed to continue: step, both heads, both optimizers' moments.
    public func checkpointData() -> Data {
        var w = BinaryArrayWriter(magic: Self.magic)
        w.append([Int64(step), Int64(optimizerT.moments.step), Int64(optimizerP.moments.step)])
        w.append(heads.temperatureHead.flatParameters); w.append(heads.topPHead.flatParameters)
        w.append(optimizerT.moments.m); w.append(optimizerT.moments.v); w.append(optimizerP.moments.m); w.append(optimizerP.moments.v)
        return w.data
    }

    /// Restores a checkpoint written by `checkpointData` for the same settings and data.
    public func restore(_ d: Data, path: String) throws {
        var r = try BinaryArrayReader(d, magic: Self.magic, path: path, kind: "a trainer checkpoint")
        let steps = try r.next(Int64.self, count: 3)
        let pT = try r.next(Float.self, count: heads.temperatureHead.parameterCount)
        let pP = try r.next(Float.self, count: heads.topPHead.parameterCount)
        let mT = try r.next(Double.self), vT = try r.next(Double.self), mP = try r.next(Double.self), vP = try r.next(Double.self)
        try r.finish()
        for (m, v, n) in [(mT, vT, pT.count), (mP, vP, pP.count)] where m.count != v.count || (m.count != 0 && m.count != n) {
            throw r.error("optimizer moments of \(m.count) values for \(n) parameters")
        }
        heads.temperatureHead.flatParameters = pT
        heads.topPHead.flatParameters = pP
        optimizerT.restore(step: Int(steps[1]), m: mT, v: vT)
        optimizerP.restore(step: Int(steps[2]), m: mP, v: vP)
        step = Int(steps[0])
    }
}
