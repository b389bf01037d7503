import Foundation
import Testing
import AutoDeco
import TestSupport

/// Head training end to end on a tiny random model: the loss goes down, resume is exact, the
/// threaded step equals the serial one, the activation cache round-trips.
@Suite(.serialized) struct TrainingTests {
    let model: LlamaModel
    let data: BaseActivations
    let path: String

    init() throws {
        var W = [String: [Float]]()
        path = try TinyModel.write(TinyModel.Spec(vocab: 96), seed: 5, weights: &W)
        model = try LlamaModel(gguf: GGUFFile(path: path), threads: 2)
        // Examples: a "prompt" of 3-6 tokens, then a completion that follows a fixed rule, so
        // there is something for the heads to fit.
        var g = SeededGenerator(seed: 9)
        let examples = (0..<12).map { e -> TokenizedExample in
            let prompt = (0..<(3 + e % 4)).map { _ in Int32(g.next() % 96) }
            var completion = [Int32(g.next() % 96)]
            for _ in 0..<10 { completion.append((completion.last! * 7 + 3) % 96) }
            return TokenizedExample(tokens: prompt + completion, promptCount: prompt.count)
        }
        data = try BaseActivations.compute(model: model, examples: examples)
    }

    func settings(steps: Int) -> TrainerSettings {
        var s = TrainerSettings()
        s.learningRate = 1e-2; s.warmupSteps = 2; s.batchSize = 4; s.maxSteps = steps; s.seed = 3
        return s
    }

    @Test func activationsCoverEverySupervisedPosition() throws {
        #expect(data.exampleCount == 12)
        #expect(data.positionCount == 12 * 11)  // 11 completion tokens each, predicted from the position before
        #expect(data.hidden.count == data.positionCount * 64)
        #expect(data.baseProbability.allSatisfy { $0 > 0 && $0 <= 1 })
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("acts-\(UUID().uuidString).bin").path
        defer { try? FileManager.default.removeItem(atPath: file) }
        try data.write(to: file)
        let back = try BaseActivations.read(file)
        #expect(back.hidden == data.hidden && back.labels == data.labels && back.easy == data.easy && back.exampleOffsets == data.exampleOffsets)
        // A truncated cache is a named error, not garbage.
        let bytes = try Data(contentsOf: URL(fileURLWithPath: file))
        try bytes.prefix(bytes.count - 7).write(to: URL(fileURLWithPath: file))
        #expect(throws: DataFileError.self) { try BaseActivations.read(file) }
    }

    @Test func trainingReducesTheLoss() {
        let heads = AutoDecoHeads(hiddenSize: 64, seed: 1)
        let before = heads.evaluate(on: data, model: model)
        let trainer = HeadTrainer(model: model, data: data, heads: heads, settings: settings(steps: 40))
        while !trainer.isFinished { _ = trainer.trainStep() }
        let after = trainer.heads.evaluate(on: data, model: model)
        #expect(after.temperatureLoss < 0.9 * before.temperatureLoss, "loss_T \(before.temperatureLoss) -> \(after.temperatureLoss)")
        #expect(after.topPLoss < 0.9 * before.topPLoss, "loss_P \(before.topPLoss) -> \(after.topPLoss)")
    }

    @Test func resumedRunEqualsUninterruptedRun() throws {
        let heads = AutoDecoHeads(hiddenSize: 64, seed: 1)
        let whole = HeadTrainer(model: model, data: data, heads: heads, settings: settings(steps: 9))
        while !whole.isFinished { _ = whole.trainStep() }

        let first = HeadTrainer(model: model, data: data, heads: heads, settings: settings(steps: 9))
        for _ in 0..<4 { _ = first.trainStep() }
        let saved = first.checkpointData()
        _ = first.trainStep()  // work after the checkpoint is lost by the "kill"
        let resumed = HeadTrainer(model: model, data: data, heads: AutoDecoHeads(hiddenSize: 64, seed: 77), settings: settings(steps: 9))
        try resumed.restore(saved, path: "memory")
        #expect(resumed.step == 4)
        while !resumed.isFinished { _ = resumed.trainStep() }
        #expect(resumed.heads == whole.heads)
        #expect(throws: DataFileError.self) { try resumed.restore(saved.prefix(100), path: "cut") }
    }

    @Test func threadedStepEqualsSerialStep() {
        let heads = AutoDecoHeads(hiddenSize: 64, seed: 4)
        let trainer = HeadTrainer(model: model, data: data, heads: heads, settings: settings(steps: 1))
        let b = trainer.batch(positions: Array(0..<40))
        let dropped = (0..<40).map { $0 % 3 == 0 && b.easy[$0] }
        let serial = heads.trainingStep(b, dropped: dropped)
        let threaded = heads.trainingStep(b, dropped: dropped, pool: model.pool)
        #expect(abs(serial.totalLoss - threaded.totalLoss) < 1e-12)
        let worst = zip(serial.temperatureGradient.flat + serial.topPGradient.flat, threaded.temperatureGradient.flat + threaded.topPGradient.flat)
            .map { abs($0 - $1) }.max() ?? 1
        #expect(worst < 1e-12)
    }
}
