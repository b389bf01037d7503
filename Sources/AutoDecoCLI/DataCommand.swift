import ArgumentParser
import AutoDeco
import Evaluation
import Foundation

struct DataCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "data",
        abstract: "Prepare training data for the heads.",
        subcommands: [DataSampleCommand.self])
}

struct DataSampleCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sample",
        abstract: "Rejection sampling: the model answers each problem K times; correct answers become training lines.",
        discussion: """
        Each problem ({"problem", "gt"} per line, as in ../shared/data) is rendered through the model's chat \
        template as one user message (the problem, a newline, the instruction), answered --samples times, and \
        graded against gt (last \\boxed{}, else last number; an answer cut off at --max-tokens is wrong). \
        Correct answers are appended to --out as {"prompt", "completion"} lines, the official AutoDeco \
        training format. Many samples are decoded together (--parallel). A killed run continues where it \
        stopped when started again with the same --out and settings (progress in OUT.progress.jsonl).
        """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Problems, JSON Lines with `problem` and `gt` (and optionally `id`).")
    var problems: String

    @Option(name: .long, help: "Answers sampled per problem.")
    var samples: Int = 4

    @Option(name: .long, help: "Sampling temperature.")
    var temperature: Float = 1.0

    @Option(name: .customLong("top-p"), help: "Sampling top-p.")
    var topP: Float = 1.0

    @Option(name: [.customShort("m"), .long], help: "Answer budget in tokens; longer answers count as wrong.")
    var maxTokens: Int = 256

    @Option(name: .long, help: "Seed of the run (each sample's seed derives from it, the problem and the sample number).")
    var seed: UInt64 = 0

    @Option(name: .long, help: "Appended to each problem after a newline.")
    var instruction: String = RejectionSamplingSettings.defaultInstruction

    @Option(name: .long, help: "Sequences decoded together.")
    var parallel: Int = 16

    @Option(name: .long, help: "Only the first N problems of the file.")
    var limit: Int?

    @Option(name: .long, help: "Output file (training lines).")
    var out: String

    @Flag(name: .long, help: "Print the final summary as JSON on stdout.")
    var json = false

    func run() throws {
        guard samples >= 1, parallel >= 1, maxTokens >= 1 else { throw ValidationError("--samples, --parallel and --max-tokens must be at least 1") }
        guard temperature >= 0, (0...1).contains(topP) else { throw ValidationError("--temperature must be >= 0 and --top-p in [0, 1]") }
        var list = try Problem.load(problems)
        if let limit { list = Array(list.prefix(max(limit, 0))) }
        let lm = try modelOptions.load()
        let settings = RejectionSamplingSettings(samplesPerProblem: samples, temperature: temperature, topP: topP,
                                                 maxTokens: maxTokens, seed: seed, instruction: instruction)
        let sampler = RejectionSampler(model: lm, settings: settings, slots: parallel)
        Console.info("sampling \(samples) answers for each of \(list.count) problems from \(problems) (T \(temperature), P \(topP), \(maxTokens) tokens max, \(parallel) in parallel)")
        var bar: ProgressBar?
        let final = try sampler.run(problems: list, output: out, accept: { AnswerGrader.grade($0, gold: $1, truncated: $2).correct }) { s in
            if bar == nil {
                bar = ProgressBar(total: s.problemsTotal, label: "problems", alreadyDone: s.problemsDone)
                if s.problemsDone > 0 { Console.info("resuming: \(s.problemsDone) problems already done") }
            }
            bar?.update(s.problemsDone, String(format: "accepted %d/%d (%.1f%%), %.0f tokens/s",
                                               s.accepted, s.samples, 100 * s.acceptanceRate, s.tokensPerSecond))
        }
        bar?.update(final.problemsDone, String(format: "accepted %d/%d", final.accepted, final.samples), force: true)
        bar?.finish()
        let summary = String(format: """
            %d problems, %d samples: %d accepted (%.1f%%), %d cut off at %d tokens (%.1f%%)
            %d tokens generated (%.1f per sample); this run: %d tokens in %@, %.1f tokens/s
            training lines: %@ (progress: %@)
            """, final.problemsDone, final.samples, final.accepted, 100 * final.acceptanceRate, final.truncated, maxTokens,
            100 * Double(final.truncated) / Double(max(final.samples, 1)), final.generatedTokens,
            Double(final.generatedTokens) / Double(max(final.samples, 1)), final.sessionTokens,
            ProgressBar.duration(final.sessionSeconds), final.tokensPerSecond, out, RejectionSampler.progressPath(for: out))
        Console.info(summary)
        if json {
            Console.jsonLine(["problems": final.problemsDone, "samples": final.samples, "accepted": final.accepted,
                              "acceptance_rate": final.acceptanceRate, "truncated": final.truncated,
                              "generated_tokens": final.generatedTokens, "session_tokens": final.sessionTokens,
                              "session_seconds": final.sessionSeconds, "tokens_per_second": final.tokensPerSecond, "out": out])
        }
    }
}
