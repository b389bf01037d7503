import ArgumentParser
import AutoDeco
import Evaluation
import Foundation

/// Options of every command that decodes a problem set by the paper's protocol.
struct ProtocolOptions: ParsableArguments {
    @Option(name: .long, help: "Seeds; pass@1 is reported as mean and standard deviation over them.")
    var seeds: Int = 8

    @Option(name: .long, help: "Answers per problem and seed.")
    var samples: Int = 16

    @Option(name: .customLong("first-seed"), help: "The first seed (seeds are first-seed ..< first-seed + seeds).")
    var firstSeed: UInt64 = 0

    @Option(name: [.customShort("m"), .long], help: "Answer budget in tokens; an answer cut off there is wrong.")
    var maxTokens: Int = 256

    @Option(name: .long, help: "Appended to each problem after a newline in the user message (default: the paper's suffix).")
    var instruction: String = EvaluationSettings.paperInstruction

    @Option(name: .long, help: "Sequences decoded together in one forward pass.")
    var parallel: Int = 16

    @Option(name: .long, help: "Only the first N problems of each dataset.")
    var limit: Int?

    func settings(_ method: EvaluationMethod) throws -> EvaluationSettings {
        guard seeds >= 1, samples >= 1, maxTokens >= 1, parallel >= 1 else {
            throw ValidationError("--seeds, --samples, --max-tokens and --parallel must be at least 1")
        }
        return EvaluationSettings(method: method, seeds: seeds, samplesPerSeed: samples, firstSeed: firstSeed, maxTokens: maxTokens,
                                  instruction: instruction, parallel: parallel)
    }
}

/// `--heads`, defaulting to the shipped heads on the default model.
struct EvalHeadsOption: ParsableArguments {
    @Option(name: .long, help: "AutoDeco heads directory (official format) for autodeco, its ablations and meanshift. Default on the default model: the shipped heads.")
    var heads: String?

    @Option(name: .long, help: headWeightsHelp)
    var headWeights: HeadWeightFormat = .exact

    func directory(_ model: ModelOptions) -> String? { heads ?? (model.model == nil ? DefaultHeads.directory : nil) }
}

struct EvalCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "eval",
        abstract: "Evaluate a decoding method on a problem set: pass@1 over seeds, pass@k, answer lengths.",
        discussion: """
        Each problem ({"problem", "gt"} per line) is rendered through the chat template as one user message \
        (the problem, a newline, --instruction) and answered --samples times under each of --seeds seeds; all \
        answers are decoded in batches of --parallel sequences. Grading: the last \\boxed{}, else the last number \
        (letters for multiple choice); an answer cut off at --max-tokens is wrong. Pass@1 per seed is the mean over \
        problems of the share of correct answers; the summary gives its mean and standard deviation over seeds \
        and pass@k (unbiased estimator) for k = 1, 2, 4, ... Deterministic methods (greedy, T = 0 or P = 0) are \
        decoded once per problem. The same seeds give the same answers.

        Methods: \(EvaluationMethod.syntax.joined(separator: ", ")). static:1.0,1.0 is the paper's Default \
        Sampling; meanshift uses the means of the heads' teacher-forced predictions over --meanshift-data \
        (see `autodeco meanshift`). The heuristics run at temperature 1 (spec section 8).

        Output in --out: samples.jsonl (one line per answer: id, seed, sample, text, n_tokens, finish_reason, \
        answer, correct, and per-token temperatures and top_ps when the method varies them), summary.json and \
        summary.md.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var protocolOptions: ProtocolOptions
    @OptionGroup var headsOption: EvalHeadsOption

    @Option(name: .long, help: "Problems (JSON Lines with problem and gt), e.g. ../shared/data/arithmetic/chain-sum-2t1d.test.jsonl.")
    var dataset: String

    @Option(name: .long, help: "Decoding method (see below).")
    var method: String

    @Option(name: .customLong("meanshift-data"), help: "Training file (prompt, completion) whose teacher-forced head predictions define meanshift.")
    var meanShiftData: String?

    @Option(name: .long, help: "Output directory.")
    var out: String

    @Flag(name: .long, help: "Print summary.json on stdout.")
    var json = false

    func run() throws {
        var parsed = try EvaluationMethod(parsing: method)
        let problems = try loadProblems(dataset, limit: protocolOptions.limit)
        let needsHeads: Bool
        if case .meanShift(nil, _) = parsed { needsHeads = true } else { needsHeads = parsed.usesHeads }
        let context = try EvaluationContext(modelOptions: modelOptions, headsDirectory: needsHeads ? headsOption.directory(modelOptions) : nil, headWeights: headsOption.headWeights)
        parsed = try context.resolve(parsed, meanShiftData: meanShiftData)
        let summary = try context.evaluate(problems: problems, dataset: datasetName(dataset), settings: try protocolOptions.settings(parsed), out: out)
        Console.info(summary.markdown)
        Console.info("written: \(out)/samples.jsonl, summary.json, summary.md")
        if json { Console.out(String(decoding: try summary.jsonData(), as: UTF8.self) + "\n") }
    }
}
