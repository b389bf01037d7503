import ArgumentParser
import AutoDeco
import Foundation

/// Options shared by every command that loads a model.
struct ModelOptions: ParsableArguments {
    @Option(name: .long, help: "A GGUF model file (Llama, Qwen2, Qwen3; F32/F16/BF16/Q8_0/Q4_0/Q4_1). Default: SmolLM2-135M-Instruct Q4_1, fetched on first use.")
    var model: String?

    @Option(name: .customLong("cache-dir"), help: "Where the default model is cached (default: $AUTODECO_CACHE, else $XDG_CACHE_HOME/autodeco, else ~/.cache/autodeco).")
    var cacheDir: String?

    @Option(name: .long, help: "Worker threads (default: one per core).")
    var threads: Int = ThreadPool.defaultThreadCount

    @Option(name: .long, help: "Matrix-product inputs: int8 (rounded to 8 bits per 32 values, each block's outlier kept at 16; with AVX-512 VNNI the fastest in batches and prompts; KL mean 1e-3 to 5e-3 from exact), int16 (16 bits per 32 values; KL ~1e-6 from exact) or float32 (exact dequantization, within ~1e-4 of a float64 forward pass; slowest).")
    var precision: ActivationPrecision = .int16

    @Option(name: .customLong("kv-cache"), help: "How the KV cache stores keys and values: float16 (half the memory and half the bytes attention reads; llama.cpp's default) or float32 (exact). Default: float16 with int8/int16, float32 with --precision float32.")
    var kvCache: KVCacheElement?

    func resolvePath() throws -> String {
        if let model {
            guard FileManager.default.fileExists(atPath: model) else { throw ValidationError("no such model file: \(model)") }
            return model
        }
        return try DefaultModel.ensure(cacheOverride: cacheDir, log: { Console.info($0) })
    }

    func load() throws -> LoadedModel {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        return try LoadedModel.load(path: resolvePath(), threads: threads, precision: precision, kvCache: kvCache)
    }
}

extension ActivationPrecision: ExpressibleByArgument {}
extension KVCacheElement: ExpressibleByArgument {}
extension HeadWeightFormat: ExpressibleByArgument {}

/// The help of every `--head-weights` option.
let headWeightsHelp: ArgumentHelp = "How the heads' first layers are stored for inference: exact (the checkpoint's bf16 or float32 values) or q8_0 (GGUF Q8_0 blocks of 32 int8 weights, run by the integer kernels of the forward pass: 0.31 MB instead of 0.59 MB read per token for SmolLM2's heads, T within 2.1e-3 and P within 2.3e-4 of exact on the reference hidden states, about as far as the official bf16 stack's own rounding)."

/// The AutoDeco heads of chat, generate and bench.
struct HeadsOptions: ParsableArguments {
    @Option(name: .long, help: "An AutoDeco heads checkpoint directory (official format): the heads predict each token's temperature and top-p. Default on the default model: the shipped heads (\(DefaultHeads.name)).")
    var heads: String?

    @Flag(name: .customLong("no-heads"), help: "Static decoding: no heads, even on the default model.")
    var noHeads = false

    @Flag(name: .customLong("no-temperature-head"), help: "Ablation: switch the temperature head off (the user's temperature is used).")
    var noTemperatureHead = false

    @Flag(name: .customLong("no-top-p-head"), help: "Ablation: switch the top-p head off (the user's top-p is used).")
    var noTopPHead = false

    @Option(name: .long, help: headWeightsHelp)
    var headWeights: HeadWeightFormat = .exact

    /// The heads directory in use: --heads, else the shipped heads when the model is the default
    /// one, else none (also with --no-heads).
    func directory(model: ModelOptions) throws -> String? {
        if noHeads {
            if heads != nil { throw ValidationError("--heads and --no-heads exclude each other") }
            return nil
        }
        return heads ?? (model.model == nil ? DefaultHeads.directory : nil)
    }

    /// The controller for `lm`: the heads in `directory` (checked against the model), else the
    /// user's static settings.
    func controller(for lm: LoadedModel, directory: String?) throws -> any DecodingController {
        guard let heads = directory else { return StaticController() }
        let loaded = try AutoDecoCheckpoint.load(directory: heads, for: lm.model.config, format: headWeights)
        return AutoDecoController(heads: loaded, useTemperatureHead: !noTemperatureHead, useTopPHead: !noTopPHead, pool: lm.model.pool)
    }
}

/// Sampling and stopping options of chat and generate (flags as in llm-tool and llama.cpp).
/// Defaults depend on whether AutoDeco heads are in use: without them, llama.cpp's (T 0.8,
/// top-p 0.95, top-k 40, min-p 0.05); with them, the heads' predictions as they are (user
/// T 1 and P 1, no top-k, no min-p), as the official inference rule intends.
struct SamplingOptions: ParsableArguments {
    @Option(name: [.customShort("m"), .long], help: "Maximum tokens to generate.")
    var maxTokens: Int = 256

    @Option(name: [.customShort("t"), .long], help: "Temperature; 0 = greedy. With --heads it multiplies the predicted temperature. (default: 0.8, or 1 with --heads)")
    var temperature: Float?

    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the smallest set of tokens with this much probability (1 = off). With --heads it multiplies the predicted top-p. (default: 0.95, or 1 with --heads)")
    var topP: Float?

    @Option(name: .customLong("top-k"), help: "Keep the k most probable tokens (0 = off). (default: 40, or 0 with --heads)")
    var topK: Int?

    @Option(name: .customLong("min-p"), help: "Drop tokens less probable than min-p times the most probable one (0 = off). (default: 0.05, or 0 with --heads)")
    var minP: Float?

    @Option(name: .long, help: "Random seed (same seed, same output).")
    var seed: UInt64?

    @Option(name: .long, help: "Stop when the output contains this text (repeatable).")
    var stop: [String] = []

    @Option(name: .long, help: "KV-cache size in tokens (prompt + output).")
    var ctx: Int = 4096

    @Flag(name: .long, help: "Write one JSON line per token (id, text, logprob, temperature, top_p) and a final summary line, for scripts.")
    var json = false

    @Option(name: .long, help: "Write a self-contained HTML page of the generation: each token shaded by its temperature, and the temperature and top-p curves.")
    var trace: String?

    func parameters(withHeads: Bool = false) throws -> GenerateParameters {
        let temperature = self.temperature ?? (withHeads ? 1 : 0.8)
        let topP = self.topP ?? (withHeads ? 1 : 0.95)
        let topK = self.topK ?? (withHeads ? 0 : 40)
        let minP = self.minP ?? (withHeads ? 0 : 0.05)
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be >= 0") }
        guard topP >= 0, topP <= 1 || withHeads, topP.isFinite else { throw ValidationError("--top-p must be in [0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must be >= 0") }
        guard minP >= 0, minP <= 1 else { throw ValidationError("--min-p must be in [0, 1]") }
        guard ctx >= 16 else { throw ValidationError("--ctx must be at least 16") }
        return GenerateParameters(maxTokens: maxTokens,
                                  sampling: SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP, seed: seed),
                                  stopStrings: stop, logprobs: json)  // the JSON lines report them
    }
}
