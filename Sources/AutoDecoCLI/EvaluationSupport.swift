import AutoDeco
import Evaluation
import Foundation

/// What the evaluation commands share: the loaded model and heads, running one evaluation with a
/// progress bar and writing its files, and the teacher-forced data of meanshift and diagnose.
struct EvaluationContext {
    let model: LoadedModel
    let modelPath: String
    let heads: AutoDecoHeads?
    /// How the heads are recorded in summaries and run stamps: the directory, followed by the
    /// weights' form when it is not exact (so a q8_0 run never reuses or resumes an exact one).
    let headsLabel: String?
    let activationsDirectory: String

    init(modelOptions: ModelOptions, headsDirectory: String?, headWeights: HeadWeightFormat) throws {
        let model = try modelOptions.load()
        self.model = model
        modelPath = try modelOptions.resolvePath()
        headsLabel = headsDirectory.map { headWeights == .exact ? $0 : "\($0) (\(headWeights.rawValue))" }
        heads = try headsDirectory.map {
            try AutoDecoCheckpoint.load(directory: $0, for: model.model.config, format: headWeights)
        }
        activationsDirectory = DefaultModel.cacheDirectory(override: modelOptions.cacheDir).appendingPathComponent("activations").path
    }

    /// The base activations of a training-format file (cached like `autodeco train`'s).
    func activations(_ path: String) throws -> BaseActivations {
        try FileManager.default.createDirectory(atPath: activationsDirectory, withIntermediateDirectories: true)
        return try TrainingRun(model: model, modelPath: modelPath, activationsDir: activationsDirectory, maxLength: 1024)
            .activations(path, label: URL(fileURLWithPath: path).lastPathComponent)
    }

    func requireHeads(_ what: String) throws -> AutoDecoHeads {
        guard let heads else { throw EvaluationError.headsRequired(what) }
        return heads
    }

    /// MeanShift of the heads over a training file.
    func meanShift(data path: String) throws -> MeanShift {
        let heads = try requireHeads("meanshift")
        let data = try activations(path)
        let bar = ProgressBar(total: data.positionCount, label: "teacher forcing")
        let m = MeanShift.compute(heads: heads, data: data, model: model.model) { done, _ in bar.update(done) }
        bar.finish()
        return m
    }

    /// `meanshift` without values becomes meanshift:T,P from `data`.
    func resolve(_ method: EvaluationMethod, meanShiftData: String?) throws -> EvaluationMethod {
        guard case .meanShift(nil, _) = method else { return method }
        guard let meanShiftData else { throw EvaluationError.meanShiftUnresolved }
        let m = try meanShift(data: meanShiftData)
        Console.info(String(format: "meanshift: T %.4f, P %.4f (means over %d supervised tokens of %@)", m.meanTemperature, m.meanTopP,
                            m.positions, meanShiftData))
        return m.method
    }

    /// Runs one evaluation and writes samples.jsonl, summary.json and summary.md into `out` (with
    /// run.json, samples.partial.jsonl and a lock file while it runs).
    /// With `reuse`, an existing summary.json of the same settings (model, heads, seeds too) is read instead.
    func evaluate(problems: [Problem], dataset: String, settings: EvaluationSettings, out: String?, reuse: Bool = false) throws -> EvaluationSummary {
        let summaryPath = out.map { URL(fileURLWithPath: $0).appendingPathComponent("summary.json").path }
        let headsKey = settings.method.usesHeads ? headsLabel : nil  // heads matter only to methods that use them
        if reuse, let summaryPath, let old = try? EvaluationSummary.read(summaryPath), old.method == settings.method.description,
           old.dataset == dataset, old.problems == problems.count, old.seeds.count == settings.effectiveSeeds,
           old.seeds.first == settings.firstSeed, old.samplesPerSeed == settings.effectiveSamples, old.maxTokens == settings.maxTokens,
           old.instruction == settings.instruction, old.model == model.name, old.heads == headsKey {
            Console.info("\(settings.method) on \(dataset): reusing \(summaryPath)")
            return old
        }
        let evaluator = Evaluator(model: model, heads: settings.method.usesHeads ? heads : nil, settings: settings)
        // Answers are appended to samples.partial.jsonl as they come, under a stamp of the settings,
        // so a killed run resumes; samples.jsonl and the summary are written atomically at the end.
        let dir = out.map { URL(fileURLWithPath: $0) }
        let partialPath = dir?.appendingPathComponent("samples.partial.jsonl").path
        var done = [EvaluationSample]()
        var partial: FileHandle?
        var lock: DirectoryLock?
        defer { withExtendedLifetime(lock) {} }  // held until the files are final
        if let dir, let partialPath {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
            lock = try DirectoryLock(dir.path)
            let stamp = try JSONSerialization.data(withJSONObject: [
                "method": settings.method.description, "dataset": dataset, "problems": problems.map(\.id), "seeds": settings.effectiveSeeds,
                "samples": settings.effectiveSamples, "first_seed": NSNumber(value: settings.firstSeed), "max_tokens": settings.maxTokens,
                "instruction": settings.instruction, "model": model.name, "heads": headsKey ?? "",
            ] as [String: Any], options: [.sortedKeys])
            let stampPath = dir.appendingPathComponent("run.json").path
            let fm = FileManager.default
            if fm.fileExists(atPath: partialPath) {
                guard fm.contents(atPath: stampPath) == stamp else { throw EvaluationCLIError.otherRunInProgress(dir.path) }
                done = try Self.readPartial(partialPath)
                Console.info("resuming \(settings.method) on \(dataset): \(done.count) answers already in \(partialPath)")
            } else {
                try AtomicWrite.write(stamp, to: stampPath)
                try AtomicWrite.write(Data(), to: partialPath)
            }
            partial = try FileHandle(forWritingTo: URL(fileURLWithPath: partialPath))
            try partial?.seekToEnd()
        }
        defer { try? partial?.close() }
        let bar = ProgressBar(total: problems.count * settings.effectiveSeeds * settings.effectiveSamples,
                              label: "\(settings.method) on \(dataset)", alreadyDone: done.count)
        let output = try evaluator.run(problems: problems, done: done, onSample: { partial?.write(JSONLines.encode($0.jsonObject)) }) { p in
            bar.update(p.samplesDone, String(format: "%.0f tokens/s", p.tokensPerSecond))
        }
        let correct = output.samples.filter(\.correct).count
        bar.update(output.samples.count, String(format: "%d correct, %.0f tokens/s", correct, output.statistics.generatedTokensPerSecond), force: true)
        bar.finish()
        let summary = EvaluationSummary(samples: output.samples, settings: settings, problems: problems.count, dataset: dataset,
                                        model: model.name, heads: headsKey,
                                        sessionTokens: output.statistics.generatedTokens, seconds: output.statistics.seconds)
        if let dir, let summaryPath, let partialPath {
            try AtomicWrite.write(output.samples.map { JSONLines.encode($0.jsonObject) }.reduce(into: Data()) { $0.append($1) },
                                  to: dir.appendingPathComponent("samples.jsonl").path)
            try AtomicWrite.write(try summary.jsonData(), to: summaryPath)
            try AtomicWrite.write(Data(summary.markdown.utf8), to: dir.appendingPathComponent("summary.md").path)
            try? FileManager.default.removeItem(atPath: partialPath)
        }
        return summary
    }
}

extension EvaluationContext {
    /// The answers of an interrupted run; a line cut by the kill (the last) is cut off the file
    /// and its answer redone.
    static func readPartial(_ path: String) throws -> [EvaluationSample] {
        try JSONLines.readAppended(path).compactMap(EvaluationSample.init(jsonObject:))
    }
}

/// Reads a problems file, optionally its first `limit` items.
func loadProblems(_ path: String, limit: Int?) throws -> [Problem] {
    let all = try Problem.load(path)
    guard let limit else { return all }
    guard limit >= 1 else { throw EvaluationCLIError.badLimit }
    return Array(all.prefix(limit))
}

/// The dataset's name in tables: the file name without `.jsonl`.
func datasetName(_ path: String) -> String {
    let name = URL(fileURLWithPath: path).lastPathComponent
    return name.hasSuffix(".jsonl") ? String(name.dropLast(6)) : name
}

enum EvaluationCLIError: Error, CustomStringConvertible {
    case badLimit
    case otherRunInProgress(String)
    var description: String {
        switch self {
        case .badLimit: return "--limit must be at least 1"
        case .otherRunInProgress(let d):
            return "\(d) holds an unfinished evaluation with other settings (run.json, samples.partial.jsonl): rerun it with the same settings to resume, or delete them"
        }
    }
}
