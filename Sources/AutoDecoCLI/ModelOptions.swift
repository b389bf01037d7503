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

    func resolvePath() throws -> String {
        if let model {
            guard FileManager.default.fileExists(atPath: model) else { throw ValidationError("no such model file: \(model)") }
            return model
        }
        return try DefaultModel.ensure(cacheOverride: cacheDir, log: { Console.info($0) })
    }

    func load() throws -> LoadedModel {
        guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
        return try LoadedModel.load(path: resolvePath(), threads: threads)
    }
}

/// Sampling and stopping options of chat and generate (flags as in llm-tool and llama.cpp).
struct SamplingOptions: ParsableArguments {
    @Option(name: [.customShort("m"), .long], help: "Maximum tokens to generate.")
    var maxTokens: Int = 256

    @Option(name: [.customShort("t"), .long], help: "Temperature; 0 = greedy.")
    var temperature: Float = 0.8

    @Option(name: .customLong("top-p"), help: "Nucleus sampling: keep the smallest set of tokens with this much probability (1 = off).")
    var topP: Float = 0.95

    @Option(name: .customLong("top-k"), help: "Keep the k most probable tokens (0 = off).")
    var topK: Int = 40

    @Option(name: .customLong("min-p"), help: "Drop tokens less probable than min-p times the most probable one (0 = off).")
    var minP: Float = 0.05

    @Option(name: .long, help: "Random seed (same seed, same output).")
    var seed: UInt64?

    @Option(name: .long, help: "Stop when the output contains this text (repeatable).")
    var stop: [String] = []

    @Option(name: .long, help: "KV-cache size in tokens (prompt + output).")
    var ctx: Int = 4096

    @Flag(name: .long, help: "Write one JSON line per token (id, text, logprob) and a final summary line, for scripts.")
    var json = false

    func parameters() throws -> GenerateParameters {
        guard maxTokens >= 1 else { throw ValidationError("--max-tokens must be at least 1") }
        guard temperature >= 0, temperature.isFinite else { throw ValidationError("--temperature must be >= 0") }
        guard topP > 0, topP <= 1 else { throw ValidationError("--top-p must be in (0, 1]") }
        guard topK >= 0 else { throw ValidationError("--top-k must be >= 0") }
        guard minP >= 0, minP <= 1 else { throw ValidationError("--min-p must be in [0, 1]") }
        guard ctx >= 16 else { throw ValidationError("--ctx must be at least 16") }
        return GenerateParameters(maxTokens: maxTokens,
                                  sampling: SamplingParameters(temperature: temperature, topK: topK, topP: topP, minP: minP, seed: seed),
                                  stopStrings: stop)
    }
}
