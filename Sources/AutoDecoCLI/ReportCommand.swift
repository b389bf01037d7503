import ArgumentParser
import AutoDeco
import Evaluation
import Foundation

struct ReportCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Reproduce the paper's tables at CPU scale and write docs/results.md.",
        discussion: """
        For each dataset: Greedy, Default Sampling (T = 1, P = 1), the Expert-Guided oracle (the sweep of \
        `autodeco sweep`, tuned on the test set), MeanShift (with --meanshift-data), the heuristic adaptive \
        samplers, AutoDeco and its two single-head ablations, all by the protocol of `autodeco eval`. Then \
        pass@k, answer lengths, the inverse-temperature diagnostics (with --meanshift-data) and an efficiency \
        table (FLOPs, latency and memory per token with and without heads at several prompt lengths). Every \
        evaluation lives in --work and is read back when its settings match, so a rerun only redoes what is \
        missing (delete --work to start over).
        """)

    static let defaultHeuristics = ["min-p:0.1", "edt:0.6,0.1,0.8", "dynatemp:1.0,0.5,1.0", "top-n-sigma:1.0", "mirostat:5.0,0.1",
                                    "typical:0.95", "eta:0.0009"]

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var headsOption: EvalHeadsOption

    @Option(name: .long, parsing: .upToNextOption, help: "Problem files (default: the three arithmetic test splits in ../shared/data, held out from the shipped heads' training; with --limit, the first N problems of each).")
    var datasets: [String] = ["add-2t1d", "chain-sum-2t1d", "chain-sum-3t1-2d"].map { "../shared/data/arithmetic/\($0).test.jsonl" }

    @Option(name: .long, parsing: .upToNextOption, help: "Heuristic samplers (method strings of `autodeco eval`).")
    var heuristics: [String] = ReportCommand.defaultHeuristics

    @Option(name: .customLong("meanshift-data"), help: "The heads' training file: adds MeanShift and the diagnostics.")
    var meanShiftData: String?

    @Option(name: .customLong("prompt-lengths"), parsing: .upToNextOption, help: "Prompt lengths of the efficiency table.")
    var promptLengths: [Int] = [128, 1024, 4096]

    @Option(name: .long, help: "Directory of the evaluations.")
    var work: String = "work/report"

    @Option(name: .long, help: "The Markdown report (plots go beside it, in a folder of the same name).")
    var out: String = "docs/results.md"

    func run() throws {
        let start = Date()
        let context = try EvaluationContext(modelOptions: modelOptions, headsDirectory: headsOption.directory(modelOptions), headWeights: headsOption.headWeights)
        let heuristicMethods = try heuristics.map { try EvaluationMethod(parsing: $0) }
        let meanShift = try meanShiftData.map { try context.meanShift(data: $0) }
        var document = ResultsDocument(model: context.model.name, heads: context.headsLabel,
                                       settings: try protocolOptions.settings(.greedy), meanShift: meanShift)
        let plotDir = URL(fileURLWithPath: out).deletingPathExtension()
        let sweep = SweepRun(context: context, protocolOptions: protocolOptions)
        for path in datasets {
            let problems = try loadProblems(path, limit: protocolOptions.limit)
            let name = datasetName(path)
            let dir = URL(fileURLWithPath: work).appendingPathComponent(name)
            func evaluate(_ m: EvaluationMethod, _ sub: String) throws -> EvaluationSummary {
                try context.evaluate(problems: problems, dataset: name, settings: try protocolOptions.settings(m),
                                     out: dir.appendingPathComponent(sub).path, reuse: true)
            }
            var rows = [ResultsDocument.Row]()
            rows.append(.init(method: "Greedy", summary: try evaluate(.greedy, "greedy")))
            rows.append(.init(method: "Default Sampling (T 1, P 1)", summary: try evaluate(.staticSampling(temperature: 1, topP: 1), "default")))
            let oracle = try sweep.run(problems: problems, dataset: name, out: dir.appendingPathComponent("sweep").path)
            rows.append(.init(method: "Expert-Guided oracle", detail: String(format: "T %.1f, P %.1f", oracle.bestTemperature, oracle.bestTopP), summary: oracle.best))
            var references = [(name: String, summary: EvaluationSummary)]()
            if let meanShift {
                let s = try evaluate(meanShift.method, "meanshift")
                rows.append(.init(method: String(format: "MeanShift (T %.3f, P %.3f)", meanShift.meanTemperature, meanShift.meanTopP), summary: s))
                references.append(("MeanShift", s))
            }
            for m in heuristicMethods { rows.append(.init(method: m.description, summary: try evaluate(m, m.description.replacingOccurrences(of: ":", with: "_")))) }
            if context.heads != nil {
                let ad = try evaluate(.autodeco(temperatureHead: true, topPHead: true), "autodeco")
                rows.append(.init(method: "AutoDeco", summary: ad))
                references.insert(("AutoDeco", ad), at: 0)
                rows.append(.init(method: "AutoDeco, temperature head only", summary: try evaluate(.autodeco(temperatureHead: true, topPHead: false), "autodeco-temp-only")))
                rows.append(.init(method: "AutoDeco, top-p head only", summary: try evaluate(.autodeco(temperatureHead: false, topPHead: true), "autodeco-top-p-only")))
            }
            try sweep.write(oracle, dataset: name, references: references, out: dir.appendingPathComponent("sweep").path)
            let svg = plotDir.appendingPathComponent("\(name)-sweep.svg")
            try AtomicWrite.write(FileManager.default.contents(atPath: dir.appendingPathComponent("sweep/sweep.svg").path) ?? Data(), to: svg.path)
            document.add(dataset: name, rows: rows, sweepPlot: plotDir.lastPathComponent + "/" + svg.lastPathComponent)
            // Decoding time of every evaluation behind the tables (the oracle's best point is a sweep point).
            let all = rows.map(\.summary).filter { $0 != oracle.best } + oracle.temperature.map(\.summary) + oracle.topP.map(\.summary)
            document.evaluations += all.count
            document.evaluationSeconds += all.reduce(0) { $0 + $1.seconds }
        }
        if let meanShiftData, let heads = context.heads {
            let data = try context.activations(meanShiftData)
            let bar = ProgressBar(total: data.positionCount, label: "decomposition")
            document.decomposition = TemperatureDecomposition.compute(heads: heads, data: data, model: context.model.model) { d, _ in bar.update(d) }.report
            bar.finish()
        }
        if let heads = context.heads {
            Console.info("efficiency: prompt lengths \(promptLengths.map(String.init).joined(separator: ", "))")
            document.efficiency = EfficiencyBenchmark.markdown(try EfficiencyBenchmark(model: context.model, heads: heads).run(promptLengths: promptLengths))
        }
        document.seconds = Date().timeIntervalSince(start)
        document.command = "autodeco " + CommandLine.arguments.dropFirst().joined(separator: " ")
        try AtomicWrite.write(Data(document.render().utf8), to: out)
        Console.info("written: \(out) (\(ProgressBar.duration(document.seconds)))")
    }
}
