import ArgumentParser
import AutoDeco
import Foundation

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train AutoDeco heads on a frozen base model (spec section 4).",
        discussion: """
        --data holds {"prompt", "completion"} lines (the official format; `autodeco data sample` makes them). \
        The base model runs once per example; its hidden states, gold tokens, base probabilities and easy flags \
        are cached on disk (--activations, keyed by model, data and --max-length), so further epochs and \
        reruns cost only the LM head and the heads. Each step: temperature loss with 60% easy-token masking and \
        the base-probability weight, soft top-p loss (steepness 30) through the undetached temperature, \
        hand-written gradients, AdamW with warmup and cosine decay.

        --out DIR receives: the heads in the official format (config.json, model.safetensors; loadable by \
        --heads and by the official PyTorch code), log.jsonl (one line per step, dev lines every --eval-every), \
        loss.svg, trainer.state (the checkpoint --resume continues from, written atomically every \
        --checkpoint-every steps) and, at the end, report.json / report.md: teacher-forced metrics on --dev and \
        --test (mean and spread of T and P; NLL of the gold completions under the base at T=1,P=1, the heads, \
        and a static (T, P) grid).
        """)

    @OptionGroup var modelOptions: ModelOptions

    @Option(name: .long, help: "Training data (JSON Lines: prompt, completion).")
    var data: String
    @Option(name: .long, help: "Held-out data for the loss every --eval-every steps and the final report.")
    var dev: String?
    @Option(name: .long, help: "More held-out data for the final report only.")
    var test: String?
    @Option(name: .long, help: "Output directory.")
    var out: String

    @Option(name: .customLong("lr"), help: "Peak learning rate.")
    var learningRate: Double = TrainerSettings().learningRate
    @Option(name: .customLong("weight-decay"), help: "AdamW weight decay.")
    var weightDecay: Double = TrainerSettings().weightDecay
    @Option(name: .long, help: "Linear warmup steps (then cosine decay to 10% of the peak).")
    var warmup: Int = TrainerSettings().warmupSteps
    @Option(name: .customLong("batch-size"), help: "Examples per micro-batch.")
    var batchSize: Int = TrainerSettings().batchSize
    @Option(name: .long, help: "Micro-batches per optimizer step (gradient accumulation).")
    var accumulation: Int = TrainerSettings().accumulation
    @Option(name: .long, help: "Passes over the training data.")
    var epochs: Int = TrainerSettings().epochs
    @Option(name: .customLong("max-steps"), help: "Optimizer steps (overrides --epochs).")
    var maxSteps: Int?
    @Option(name: .long, help: "Seed: head initialisation, data order, easy-token masking.")
    var seed: UInt64 = 0
    @Option(name: .customLong("max-length"), help: "Tokens per example (prompt + completion + EOS); longer ones are cut.")
    var maxLength: Int = 1024
    @Flag(name: .customLong("temperature-head-only"), help: "Train only the temperature head (the top-p head stays as initialised).")
    var temperatureOnly = false
    @Flag(name: .customLong("top-p-head-only"), help: "Train only the top-p head.")
    var topPOnly = false

    @Option(name: .customLong("eval-every"), help: "Dev-set loss every N steps.")
    var evalEvery: Int = 25
    @Option(name: .customLong("dev-positions"), help: "Positions of --dev used for the periodic loss (the final report uses all).")
    var devPositions: Int = 2000
    @Option(name: .customLong("checkpoint-every"), help: "Checkpoint (and heads, plot) every N steps.")
    var checkpointEvery: Int = 25
    @Flag(name: .long, help: "Continue the run in --out from its last checkpoint.")
    var resume = false
    @Option(name: .long, help: "Directory of the activation cache (default: <cache>/activations).")
    var activations: String?
    @Flag(name: .long, help: "Print the final report as JSON on stdout.")
    var json = false

    func validate() throws {
        guard learningRate > 0, batchSize >= 1, accumulation >= 1, epochs >= 1, maxLength >= 2, evalEvery >= 1, checkpointEvery >= 1 else {
            throw ValidationError("--lr must be positive; --batch-size, --accumulation, --epochs, --eval-every, --checkpoint-every at least 1")
        }
        if let maxSteps, maxSteps < 1 { throw ValidationError("--max-steps must be at least 1") }
        if temperatureOnly && topPOnly { throw ValidationError("--temperature-head-only and --top-p-head-only exclude each other") }
    }

    var settings: TrainerSettings {
        var s = TrainerSettings()
        s.learningRate = learningRate; s.weightDecay = weightDecay; s.warmupSteps = warmup
        s.batchSize = batchSize; s.accumulation = accumulation; s.epochs = epochs; s.maxSteps = maxSteps; s.seed = seed
        s.targets = TrainingTargets(temperature: !topPOnly, topP: !temperatureOnly)
        return s
    }

    func run() throws {
        let lm = try modelOptions.load()
        let modelPath = try modelOptions.resolvePath()
        let cacheDir = activations ?? DefaultModel.cacheDirectory(override: modelOptions.cacheDir).appendingPathComponent("activations").path
        try FileManager.default.createDirectory(atPath: cacheDir, withIntermediateDirectories: true)
        let run = TrainingRun(model: lm, modelPath: modelPath, activationsDir: cacheDir, maxLength: maxLength)
        let train = try run.activations(data, label: "train")
        let devSet = try dev.map { try run.activations($0, label: "dev") }
        let testSet = try test.map { try run.activations($0, label: "test") }
        try run.train(train, dev: devSet, test: testSet, settings: settings, out: out, resume: resume,
                      evalEvery: evalEvery, devPositions: devPositions, checkpointEvery: checkpointEvery, json: json)
    }
}
