import AutoDeco
import Foundation

/// The paper's Table 3 at our scale: compute, latency and memory per generated token with and
/// without the heads, at several prompt lengths.
struct EfficiencyBenchmark {
    struct Row {
        var promptLength: Int
        var withHeads: Bool
        var flopsPerToken: Double
        var millisecondsPerToken: Double
        var kvCacheMB: Double
        var headsMB: Double
        /// How far the process's resident memory rose above where it stood before the run (its peak).
        var peakAddedMB: Double
    }

    let model: LoadedModel
    let heads: AutoDecoHeads
    let generated = 64

    /// FLOPs of one decoded token at context length `ctx`: the weight products, attention
    /// (q.k and p.v over the cache) and, with heads, their two MLPs and the features' passes
    /// over the vocabulary (about 8 per logit: exp, sums, the variance and entropy terms).
    func flops(context ctx: Int, withHeads: Bool) -> Double {
        let c = model.model.config
        var f = 2 * Double(c.weightMACsPerToken) + 4 * Double(c.layers) * Double(c.qDim) * Double(ctx)
        if withHeads { f += Double(2 * heads.parameterCount + 8 * c.vocab) }
        return f
    }

    /// Each length: one generator (the prompt is computed once, then reused from the KV cache),
    /// `repetitions` runs without and with heads alternately; the median time per token of each.
    func run(promptLengths: [Int], repetitions: Int = 3) throws -> [Row] {
        let c = model.model.config
        var rows = [Row]()
        var g = SeededGenerator(seed: 7)
        for length in promptLengths {
            // Random ordinary tokens: the cost does not depend on what the prompt says.
            let prompt = (0..<length).map { _ in Int32(Int.random(in: 1000..<min(c.vocab, 40000), using: &g)) }
            let generator = Generator(model: model, contextSize: length + generated + 1)
            let params = GenerateParameters(maxTokens: generated, sampling: .unfiltered(seed: 1), stopOnEndOfGeneration: false)
            _ = try generator.run(prompt: prompt, parameters: params) { _ in }  // prefill once
            var times = [false: [Double](), true: [Double]()], peaks = [false: 0.0, true: 0.0]
            for _ in 0..<repetitions {
                for withHeads in [false, true] {
                    generator.controller = withHeads ? AutoDecoController(heads: heads, pool: model.model.pool) : StaticController()
                    let baseline = Self.resetPeakResident()
                    let s = try generator.run(prompt: prompt, parameters: params) { _ in }
                    times[withHeads]!.append(1000 * s.generationSeconds / Double(max(s.generatedTokens - 1, 1)))
                    peaks[withHeads] = max(peaks[withHeads]!, Self.memoryMB("VmHWM") - baseline)
                }
            }
            for withHeads in [false, true] {
                let sorted = times[withHeads]!.sorted()
                rows.append(Row(promptLength: length, withHeads: withHeads,
                                flopsPerToken: flops(context: length + generated / 2, withHeads: withHeads),
                                millisecondsPerToken: sorted[sorted.count / 2],
                                kvCacheMB: Double(2 * c.layers * c.kvDim * (length + generated) * 4) / 1e6,
                                headsMB: withHeads ? Double(heads.parameterCount * 4) / 1e6 : 0,
                                peakAddedMB: peaks[withHeads]!))
            }
        }
        return rows
    }

    /// Linux resets the peak resident set size (VmHWM) to the current one when "5" is written to
    /// clear_refs; returns the current resident size (MB), the baseline of the next peak.
    @discardableResult
    static func resetPeakResident() -> Double {
        try? "5".write(toFile: "/proc/self/clear_refs", atomically: false, encoding: .utf8)
        return memoryMB("VmRSS")
    }

    /// A memory line of /proc/self/status (VmRSS, VmHWM), in MB.
    static func memoryMB(_ key: String) -> Double {
        guard let s = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
              let line = s.split(separator: "\n").first(where: { $0.hasPrefix(key + ":") }),
              let kb = Double(line.split(separator: " ").dropFirst().first ?? "") else { return .nan }
        return kb / 1000
    }

    static func markdown(_ rows: [Row]) -> String {
        var s = "| prompt tokens | heads | GFLOPs / token | ms / token | KV cache (MB) | heads (MB) | peak memory added (MB) |\n|---|---|---|---|---|---|---|\n"
        for r in rows {
            s += String(format: "| %d | %@ | %.4f | %.2f | %.1f | %.2f | %.1f |\n", r.promptLength, r.withHeads ? "yes" : "no",
                        r.flopsPerToken / 1e9, r.millisecondsPerToken, r.kvCacheMB, r.headsMB, r.peakAddedMB)
        }
        return s
    }
}
