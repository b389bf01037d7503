import ArgumentParser
import AutoDeco
import Evaluation
import Foundation

struct DiagnoseCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "diagnose",
        abstract: "Token-level control or a better mean? The inverse-temperature decomposition of the heads' temperatures.",
        discussion: """
        Over the supervised tokens of --data (prompt, completion; teacher forcing), with beta_t = 1/T_t from the \
        temperature head, its mean beta_bar and delta_t = beta_t - beta_bar: g_t = z_gold - E[z] and v_t = Var[z] \
        under softmax(beta_bar z), the exact gain l(beta_t) - l(beta_bar) of the gold token's log-likelihood and its \
        quadratic approximation g delta - v delta^2 / 2. Reports the alignment E[g delta], the curvature penalty \
        E[v delta^2 / 2], the Cauchy-Schwarz efficiency E[g delta] / sqrt(E[g^2] E[delta^2]), the oracle gain \
        E[g^2 / 2v] and the share of tokens where the penalty dominates, overall and by the base's entropy. \
        Exact over the full vocabulary. A positive mean gain means per-token variation helps beyond the mean \
        temperature 1/beta_bar.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var headsOption: EvalHeadsOption

    @Option(name: .long, help: "Data file (JSON Lines: prompt, completion).")
    var data: String

    @Option(name: .customLong("tokens-out"), help: "Write the per-token terms (g, v, delta, gains, entropy) as JSON Lines here.")
    var tokensOut: String?

    @OptionGroup var output: JSONReportOptions

    func run() throws {
        let context = try EvaluationContext(modelOptions: modelOptions, headsDirectory: headsOption.directory(modelOptions), headWeights: headsOption.headWeights)
        let heads = try context.requireHeads("diagnose")
        let activations = try context.activations(data)
        let bar = ProgressBar(total: activations.positionCount, label: "decomposition")
        let (report, tokens) = TemperatureDecomposition.compute(heads: heads, data: activations, model: context.model.model) { done, _ in
            bar.update(done)
        }
        bar.finish()
        Console.out("Inverse-temperature decomposition over the supervised tokens of \(data)\n\n" + report.markdown)
        let e = JSONEncoder(); e.outputFormatting = [.prettyPrinted, .sortedKeys]
        e.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        let text = try e.encode(report)
        if let tokensOut {
            let lines = tokens.map {
                JSONLines.encode(["g": $0.g, "v": $0.v, "delta": $0.delta, "actual_gain": $0.actualGain,
                                  "approximate_gain": $0.approximateGain, "entropy": $0.entropy])
            }
            try AtomicWrite.write(lines.reduce(into: Data()) { $0.append($1) }, to: tokensOut)
        }
        try output.emit(text)
    }
}
