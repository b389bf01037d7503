import ArgumentParser
import AutoDeco
import Evaluation
import Foundation

/// The oracle sweep on one dataset, its reference lines, and its files (shared by sweep and report).
struct SweepRun {
    let context: EvaluationContext
    let protocolOptions: ProtocolOptions

    struct Result {
        var temperature: [(value: Float, summary: EvaluationSummary)]
        var topP: [(value: Float, summary: EvaluationSummary)]
        var best: EvaluationSummary
        var bestTemperature: Float
        var bestTopP: Float
    }

    func run(problems: [Problem], dataset: String, out: String) throws -> Result {
        func evaluate(_ m: EvaluationMethod, _ dir: String) throws -> EvaluationSummary {
            try context.evaluate(problems: problems, dataset: dataset, settings: try protocolOptions.settings(m),
                                 out: URL(fileURLWithPath: out).appendingPathComponent(dir).path, reuse: true)
        }
        let tStage = try OracleSweep.temperatureStage.enumerated().map { i, m in
            (OracleSweep.grid[i], try evaluate(m, String(format: "T-%.1f", OracleSweep.grid[i])))
        }
        let bestT = OracleSweep.best(tStage.map { ($0.0, $0.1.passAt1.mean) })!.value
        let atBestT = tStage.first { $0.0 == bestT }!.1
        let pStage = try OracleSweep.topPStage(bestTemperature: bestT).enumerated().map { i, m in
            let p = OracleSweep.grid[i]
            if OracleSweep.repeatsTemperatureStage(topP: p, bestTemperature: bestT) { return (p, atBestT) }
            return (p, try evaluate(m, String(format: "P-%.1f-at-T-%.1f", p, bestT)))
        }
        let bestP = OracleSweep.best(pStage.map { ($0.0, $0.1.passAt1.mean) }, preferHigher: true)!.value
        let best = pStage.first { $0.0 == bestP }!.1
        return Result(temperature: tStage, topP: pStage, best: best, bestTemperature: bestT, bestTopP: bestP)
    }

    /// sweep.md, sweep.json and sweep.svg (with `references` as horizontal lines).
    func write(_ r: Result, dataset: String, references: [(name: String, summary: EvaluationSummary)], out: String) throws {
        let dir = URL(fileURLWithPath: out)
        var md = "# Oracle sweep on \(dataset)\n\nExpert-Guided Tuning (tuned on the test set): T at P = 1, then P at the best T = "
            + String(format: "%.1f", r.bestTemperature) + ". pass@1 in %, mean ± std over seeds.\n\n"
        md += "| T (P = 1) | pass@1 | | P (T = \(String(format: "%.1f", r.bestTemperature))) | pass@1 |\n|---|---|---|---|---|\n"
        for (t, p) in zip(r.temperature, r.topP) {
            md += String(format: "| %.1f | %@ | | %.1f | %@ |\n", t.value, t.summary.passAt1.percent, p.value, p.summary.passAt1.percent)
        }
        md += String(format: "\nBest: T = %.1f, P = %.1f: %@.\n", r.bestTemperature, r.bestTopP, r.best.passAt1.percent)
        for ref in references { md += "\(ref.name): \(ref.summary.passAt1.percent).\n" }
        md += "\n![sweep](sweep.svg)\n"
        try AtomicWrite.write(Data(md.utf8), to: dir.appendingPathComponent("sweep.md").path)

        let json: [String: Any] = [
            "dataset": dataset, "best_temperature": Double(r.bestTemperature), "best_top_p": Double(r.bestTopP),
            "best_pass_at_1": ["mean": r.best.passAt1.mean, "std": r.best.passAt1.std],
            "temperature_stage": r.temperature.map { ["temperature": Double($0.value), "pass_at_1": $0.summary.passAt1.mean, "std": $0.summary.passAt1.std] },
            "top_p_stage": r.topP.map { ["top_p": Double($0.value), "pass_at_1": $0.summary.passAt1.mean, "std": $0.summary.passAt1.std] },
            "references": Dictionary(uniqueKeysWithValues: references.map { ($0.name, ["method": $0.summary.method, "pass_at_1": $0.summary.passAt1.mean]) }),
        ]
        try AtomicWrite.write(try JSONSerialization.data(withJSONObject: json, options: [.prettyPrinted, .sortedKeys]),
                              to: dir.appendingPathComponent("sweep.json").path)
        let colors = ["#d62728", "#2ca02c", "#9467bd", "#ff7f0e"]
        let chart = SweepChart(dataset: dataset,
                               temperaturePoints: r.temperature.map { (Double($0.value), 100 * $0.summary.passAt1.mean) },
                               topPPoints: r.topP.map { (Double($0.value), 100 * $0.summary.passAt1.mean) },
                               bestTemperature: Double(r.bestTemperature),
                               references: references.enumerated().map { ($1.name, 100 * $1.summary.passAt1.mean, colors[$0 % colors.count]) })
        try AtomicWrite.write(Data(chart.render().utf8), to: dir.appendingPathComponent("sweep.svg").path)
    }

    /// AutoDeco and MeanShift on the same problems, for the chart's horizontal lines.
    func references(problems: [Problem], dataset: String, out: String, meanShift: EvaluationMethod?) throws -> [(name: String, summary: EvaluationSummary)] {
        var refs = [(String, EvaluationSummary)]()
        let dir = URL(fileURLWithPath: out)
        if context.heads != nil {
            refs.append(("AutoDeco", try context.evaluate(problems: problems, dataset: dataset,
                                                          settings: try protocolOptions.settings(.autodeco(temperatureHead: true, topPHead: true)),
                                                          out: dir.appendingPathComponent("autodeco").path, reuse: true)))
        }
        if let meanShift {
            refs.append(("MeanShift", try context.evaluate(problems: problems, dataset: dataset, settings: try protocolOptions.settings(meanShift),
                                                           out: dir.appendingPathComponent("meanshift").path, reuse: true)))
        }
        return refs
    }
}

struct SweepCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sweep",
        abstract: "The Expert-Guided Tuning oracle: pass@1 over a T grid at P = 1, then a P grid at the best T.",
        discussion: """
        T from 0.0 to 1.0 in steps of 0.1 at P = 1, then P from 0.0 to 1.0 in steps of 0.1 at the best T, each \
        point a full evaluation (see `autodeco eval`) in its own directory under --out; a point already \
        evaluated with the same settings is read, not redone, so an interrupted sweep resumes. Also evaluates \
        AutoDeco (the heads) and, with --meanshift-data, MeanShift, drawn as horizontal lines in sweep.svg \
        (the paper's Figure 3). Writes sweep.md, sweep.json and sweep.svg.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var headsOption: EvalHeadsOption

    @Option(name: .long, help: "Problems (JSON Lines with problem and gt).")
    var dataset: String

    @Option(name: .customLong("meanshift-data"), help: "Training file of the heads: adds the MeanShift line.")
    var meanShiftData: String?

    @Flag(name: .customLong("no-references"), help: "Only the sweep: no AutoDeco or MeanShift lines.")
    var noReferences = false

    @Option(name: .long, help: "Output directory.")
    var out: String

    func run() throws {
        let problems = try loadProblems(dataset, limit: protocolOptions.limit)
        let context = try EvaluationContext(modelOptions: modelOptions, headsDirectory: noReferences ? nil : headsOption.directory(modelOptions), headWeights: headsOption.headWeights)
        let sweep = SweepRun(context: context, protocolOptions: protocolOptions)
        let name = datasetName(dataset)
        let result = try sweep.run(problems: problems, dataset: name, out: out)
        let meanShift = try meanShiftData.map { try context.resolve(.meanShift(temperature: nil, topP: nil), meanShiftData: $0) }
        let refs = noReferences ? [] : try sweep.references(problems: problems, dataset: name, out: out, meanShift: meanShift)
        try sweep.write(result, dataset: name, references: refs, out: out)
        Console.out(String(decoding: FileManager.default.contents(atPath: out + "/sweep.md") ?? Data(), as: UTF8.self))
        Console.info("written: \(out)/sweep.md, sweep.json, sweep.svg")
    }
}
