import AutoDeco
import Foundation

/// The files and the loop of `autodeco train`: activation caches, the step loop with progress,
/// log, periodic dev loss, checkpoints and plot, resume, and the final held-out report.
struct TrainingRun {
    let model: LoadedModel
    let modelPath: String
    let activationsDir: String
    let maxLength: Int

    /// The cached base activations of a data file, computed (with a progress bar) when missing.
    func activations(_ path: String, label: String) throws -> BaseActivations {
        let key = try BaseActivations.cacheKey(modelPath: modelPath, dataPath: path, maxLength: maxLength)
        let file = URL(fileURLWithPath: activationsDir).appendingPathComponent("\(key).bin").path
        if FileManager.default.fileExists(atPath: file) {
            let a = try BaseActivations.read(file)
            Console.info("\(label): \(a.exampleCount) examples, \(a.positionCount) supervised positions (cached: \(file))")
            return a
        }
        let examples = try TrainingExample.load(path)
        let tokenized = examples.compactMap { $0.tokenized(with: model.tokenizer, maxLength: maxLength) }
        if tokenized.count < examples.count {
            Console.info("\(label): \(examples.count - tokenized.count) examples skipped (no completion token within --max-length \(maxLength))")
        }
        let start = Date()
        let bar = ProgressBar(total: tokenized.count, label: "\(label) base pass")
        let tokens = tokenized.map(\.tokens.count).reduce(0, +)
        let a = try BaseActivations.compute(model: model.model, examples: tokenized) { bar.update($0) }
        bar.finish()
        try a.write(to: file)
        let seconds = Date().timeIntervalSince(start)
        Console.info(String(format: "%@: %d examples, %d tokens, %d supervised positions; base pass %.1f s (%.0f tokens/s); cache %.1f MB at %@",
                            label, a.exampleCount, tokens, a.positionCount, seconds, Double(tokens) / seconds,
                            Double(a.byteCount) / 1e6, file))
        return a
    }

    func train(_ data: BaseActivations, dev: BaseActivations?, test: BaseActivations?, settings: TrainerSettings, out: String,
               resume: Bool, evalEvery: Int, devPositions: Int, checkpointEvery: Int, json: Bool) throws {
        let fm = FileManager.default
        try fm.createDirectory(atPath: out, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: out)
        let statePath = dir.appendingPathComponent("trainer.state").path
        let logPath = dir.appendingPathComponent("log.jsonl").path
        let settingsPath = dir.appendingPathComponent("training.json").path
        let encoder = JSONEncoder(); encoder.outputFormatting = [.sortedKeys, .prettyPrinted]
        let settingsData = try encoder.encode(settings)

        let heads = AutoDecoHeads(hiddenSize: model.model.config.hidden, seed: settings.seed)
        let trainer = HeadTrainer(model: model.model, data: data, heads: heads, settings: settings)
        var log = [[String: Any]]()
        if resume {
            guard let state = fm.contents(atPath: statePath) else { throw TrainError.noCheckpoint(statePath) }
            guard fm.contents(atPath: settingsPath) == settingsData else { throw TrainError.settingsChanged(settingsPath) }
            try trainer.restore(state, path: statePath)
            // Keep the log up to the checkpoint: later lines are redone.
            log = ((try? JSONLines.read(logPath)) ?? []).map(\.object).filter { ($0["step"] as? Int ?? 0) <= trainer.step }
            try AtomicWrite.write(log.map { JSONLines.encode($0) }.reduce(Data(), +), to: logPath)
            Console.info("resuming from step \(trainer.step) of \(trainer.totalSteps)")
        } else {
            if fm.fileExists(atPath: statePath) { throw TrainError.wouldOverwrite(out) }
            try AtomicWrite.write(settingsData, to: settingsPath)
            try AtomicWrite.write(Data(), to: logPath)
        }
        let logFile = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        try logFile.seekToEnd()
        func record(_ line: [String: Any]) { log.append(line); logFile.write(JSONLines.encode(line)) }

        let baseConfig = AutoDecoConfig(model: model.model.config, nameOrPath: model.name)
        func checkpoint() throws {
            try AtomicWrite.write(trainer.checkpointData(), to: statePath)
            try AutoDecoCheckpoint.save(trainer.heads, to: out, baseConfig: baseConfig)
            try AtomicWrite.write(Data(plot(log).utf8), to: dir.appendingPathComponent("loss.svg").path)
        }

        Console.info("training \(settings.targets.temperature ? "T" : "")\(settings.targets.topP ? "P" : "") head(s): \(data.exampleCount) examples, "
                     + "\(trainer.totalSteps) steps of \(settings.batchSize)x\(settings.accumulation) examples, lr \(settings.learningRate)")
        func evaluateDev(step: Int) {
            guard let dev else { return }
            let m = trainer.heads.evaluate(on: dev, model: model.model, limit: devPositions)
            record(["step": step, "dev_loss_t": m.temperatureLoss, "dev_loss_p": m.topPLoss,
                    "dev_mean_t": m.meanTemperature, "dev_mean_p": m.meanTopP, "dev_positions": m.positions])
        }
        if trainer.step == 0 { evaluateDev(step: 0) }  // where the curves start
        let bar = ProgressBar(total: trainer.totalSteps, label: "step", alreadyDone: trainer.step)
        var positions = 0, seconds = 0.0
        while !trainer.isFinished {
            let r = trainer.trainStep()
            positions += r.positions; seconds += r.seconds
            record(["step": r.step, "epoch": r.epoch, "loss_t": r.temperatureLoss, "loss_p": r.topPLoss, "mean_t": r.meanTemperature,
                    "mean_p": r.meanTopP, "lr": r.learningRate, "positions": r.positions, "seconds": r.seconds])
            if r.step % evalEvery == 0 || trainer.isFinished { evaluateDev(step: r.step) }
            if r.step % checkpointEvery == 0 || trainer.isFinished { try checkpoint() }
            bar.update(r.step, String(format: "loss T %.4f P %.4f | T %.2f P %.2f | %.0f positions/s",
                                      r.temperatureLoss, r.topPLoss, r.meanTemperature, r.meanTopP, Double(positions) / max(seconds, 1e-9)))
        }
        bar.finish()
        try logFile.close()
        Console.info("heads written to \(out) (official format); log \(logPath); curves \(dir.appendingPathComponent("loss.svg").path)")

        // Held-out report.
        var report = [String: Any]()
        var markdown = "# What the heads learned (teacher forcing)\n\n"
        for (name, set) in [("dev", dev), ("test", test)] {
            guard let set else { continue }
            let bar = ProgressBar(total: set.positionCount, label: "\(name) report")
            let m = trainer.heads.evaluate(on: set, model: model.model, grid: AutoDecoHeads.staticGrid) { done, _ in bar.update(done) }
            bar.finish()
            report[name] = try JSONSerialization.jsonObject(with: JSONEncoder().encode(m))
            markdown += Self.markdown(name: name, m)
        }
        try AtomicWrite.write(Data(markdown.utf8), to: dir.appendingPathComponent("report.md").path)
        try AtomicWrite.write(JSONLines.encode(report), to: dir.appendingPathComponent("report.json").path)
        Console.info(markdown)
        if json { Console.jsonLine(report) }
    }

    static func markdown(name: String, _ m: HeldOutMetrics) -> String {
        var s = "## \(name): \(m.positions) supervised positions\n\n"
        s += String(format: "Predicted T: mean %.3f, std %.3f. Predicted P: mean %.3f, std %.3f. Gold token inside the heads' hard top-p nucleus: %.1f%%.\n\n",
                    m.meanTemperature, m.stdTemperature, m.meanTopP, m.stdTopP, 100 * m.headsNucleusCoverage)
        s += "| decoding | NLL per token (nats) |\n|---|---|\n"
        s += String(format: "| base, T = 1, P = 1 | %.4f |\n", m.baseNLL)
        s += String(format: "| heads: temperature only (P = 1) | %.4f |\n", m.headsTemperatureNLL)
        s += String(format: "| heads: T and P (soft top-p mask) | %.4f |\n", m.headsNLL)
        if let b = m.bestStatic {
            s += String(format: "| best static of the grid: T = %.2f, P = %.2f (soft top-p mask) | %.4f |\n", b.temperature, b.topP, b.nll)
        }
        s += String(format: "\nTraining losses (w-weighted, no easy-token masking): loss_T %.4f, loss_P %.4f.\n\n", m.temperatureLoss, m.topPLoss)
        s += "Static grid (soft top-p NLL):\n\n| T \\ P | " + Array(Set(m.grid.map(\.topP))).sorted().map { String(format: "%.2f", $0) }.joined(separator: " | ") + " |\n"
        let ps = Array(Set(m.grid.map(\.topP))).sorted()
        s += "|---|" + ps.map { _ in "---|" }.joined() + "\n"
        for t in Array(Set(m.grid.map(\.temperature))).sorted() {
            s += String(format: "| %.2f | ", t) + ps.map { p in
                m.grid.first { $0.temperature == t && $0.topP == p }.map { String(format: "%.4f", $0.nll) } ?? ""
            }.joined(separator: " | ") + " |\n"
        }
        return s + "\n"
    }

    /// Training loss (per step, and a running mean over 20 steps) and dev loss against steps.
    func plot(_ log: [[String: Any]]) -> String {
        func points(_ key: String) -> [(x: Double, y: Double)] {
            log.compactMap { l in (l[key] as? Double).map { (Double(l["step"] as? Int ?? 0), $0) } }
        }
        func smooth(_ p: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
            p.indices.map { i in (p[i].x, p[max(0, i - 19)...i].map(\.y).reduce(0, +) / Double(i - max(0, i - 19) + 1)) }
        }
        let chart = LineChartSVG(title: "AutoDeco head training", xLabel: "optimizer step", yLabel: "loss", series: [
            .init(name: "train loss_T (mean 20)", color: "#d62728", points: smooth(points("loss_t"))),
            .init(name: "train loss_P (mean 20)", color: "#1f77b4", points: smooth(points("loss_p"))),
            .init(name: "dev loss_T", color: "#d62728", points: points("dev_loss_t"), dashed: true),
            .init(name: "dev loss_P", color: "#1f77b4", points: points("dev_loss_p"), dashed: true),
        ])
        return chart.render()
    }
}

enum TrainError: Error, CustomStringConvertible {
    case noCheckpoint(String), settingsChanged(String), wouldOverwrite(String)
    var description: String {
        switch self {
        case .noCheckpoint(let p): return "--resume: no checkpoint at \(p)"
        case .settingsChanged(let p): return "--resume: the settings differ from those in \(p); resume with the same options"
        case .wouldOverwrite(let d): return "\(d) already holds a training run; pass --resume to continue it or choose another --out"
        }
    }
}
