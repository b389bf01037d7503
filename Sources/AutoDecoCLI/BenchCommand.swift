import ArgumentParser
import AutoDeco
import Foundation

struct BenchCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Measure prompt processing (ppN) and generation (tgN) speed, as llama-bench does.",
        discussion: """
        ppN: N prompt tokens in one batch on an empty KV cache. tgN: N tokens decoded one at a time \
        (each with the LM head's logits; sampling excluded). One warm-up run, then -r repetitions; \
        prints mean ± standard deviation of tokens/s.
        """)

    @Option(name: [.customShort("p"), .customLong("n-prompt")], help: "Prompt tokens (0 = skip).")
    var nPrompt: Int = 512

    @Option(name: [.customShort("n"), .customLong("n-gen")], help: "Generated tokens (0 = skip).")
    var nGen: Int = 128

    @Option(name: [.customShort("d"), .customLong("n-depth")], help: "Tokens already in the KV cache before each ppN, tgN and tgN×B test (as llama-bench's -d): decoding at depth, where attention reads the whole cache every token. The prefix is computed once, untimed; tests are then named e.g. tg128@d4096.")
    var depth: Int = 0

    @Option(name: [.customShort("r"), .customLong("repetitions")], help: "Repetitions of each test.")
    var repetitions: Int = 5

    @Flag(name: .long, help: "Print JSON instead of the table.")
    var json = false

    @Option(name: .long, help: "Also measure decoding with these AutoDeco heads: tgN+heads runs the heads and full-vocabulary top-p sampling after every token, and their cost per token is reported. With --batch, tgN×B+heads does the same for every sequence of the batch (each with its own controller and sampler, as a batched evaluation runs them).")
    var heads: String?

    @Option(name: .long, help: headWeightsHelp)
    var headWeights: HeadWeightFormat = .exact

    @Option(name: [.customShort("b"), .customLong("batch")], help: "Also decode this many sequences together (tgN×B: B sequences, N steps each, one batched forward pass per step; reports aggregate tokens/s). 0 = skip.")
    var batch: Int = 0

    @Flag(name: .long, help: "Also print where the time of one generated token goes (per step of the forward pass, with the weight bandwidth of the matrix products), measured over the tgN run, and over the tgN×B run with --batch.")
    var profile = false

    @Flag(name: .long, help: "Only measure this machine's ceilings: memory read bandwidth, the float matrix-product rate and the peak rate of the integer (VNNI) dot-product instructions (with --threads threads).")
    var ceilings = false

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        guard repetitions >= 1, nPrompt >= 0, nGen >= 0, batch >= 0 else { throw ValidationError("counts must be positive") }
        if ceilings {
            let c = MachineCeilings(pool: ThreadPool.shared(threads: modelOptions.threads))
            let bandwidth = c.readBandwidth(), gflops = c.floatMatmulGFLOPs()
            let int16 = c.vnniPeakGMACs(bits: 16), int8 = c.vnniPeakGMACs(bits: 8)
            if json {
                Console.jsonLine(["threads": modelOptions.threads, "read_gb_per_second": bandwidth, "float_matmul_gflops": gflops,
                                  "vnni_int16_peak_gmacs": int16 ?? NSNull(), "vnni_int8_peak_gmacs": int8 ?? NSNull()])
            } else {
                let vnni = { (v: Double?) in v.map { String(format: "%.0f G multiply-adds/s", $0) } ?? "n/a (no AVX-512 VNNI)" }
                Console.out(String(format: "%d thread(s): memory read %.1f GB/s, float32 tiled matmul %.1f GFLOP/s\n",
                                   modelOptions.threads, bandwidth, gflops)
                            + "  VNNI peak (registers only): int16 vpdpwssd \(vnni(int16)), int8 vpdpbusd \(vnni(int8))\n")
            }
            return
        }
        let lm = try modelOptions.load()
        let m = lm.model
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: lm.path)[.size] as? Int) ?? 0
        let params = m.config.weightMACsPerToken
        var rows: [(test: String, samples: [Double])] = []
        // Deterministic, non-special token ids.
        let tokens = { (n: Int) in (0..<n).map { Int32(100 + ($0 * 7919) % max(m.config.vocab - 200, 1)) } }

        guard depth >= 0, depth + max(nPrompt, nGen) <= m.config.contextLength else {
            throw ValidationError("--n-depth \(depth) plus the test's tokens exceeds the model's context length (\(m.config.contextLength))")
        }
        let suffix = depth > 0 ? "@d\(depth)" : ""
        // The depth prefix, computed once (untimed) and copied into every context that needs it.
        let prefix: ModelContext? = depth > 0 ? try {
            let ctx = m.makeContext(capacity: depth)
            _ = try m.forward(tokens(depth), context: ctx, logits: .none)
            return ctx
        }() : nil
        let makeContext = { (n: Int) -> ModelContext in
            let ctx = m.makeContext(capacity: depth + n)
            if let prefix { ctx.cache.copyPrefix(from: prefix.cache, count: depth) }
            return ctx
        }

        // One warm-up run, then `repetitions` timed runs on a KV cache emptied back to the depth prefix.
        func measure(_ test: String, _ n: Int, _ run: ([Int32], ModelContext) throws -> Void) rethrows {
            guard n > 0 else { return }
            let ids = tokens(n)
            let ctx = makeContext(n)
            var samples = [Double]()
            for rep in 0...repetitions {
                ctx.cache.truncate(to: depth)
                let t0 = Date()
                try run(ids, ctx)
                if rep > 0 { samples.append(Double(n) / Date().timeIntervalSince(t0)) }
            }
            rows.append((test + suffix, samples))
        }
        try measure("pp\(nPrompt)", nPrompt) { ids, ctx in _ = try m.forward(ids, context: ctx, logits: .last) }
        let stepProfile = ForwardProfile()
        try measure("tg\(nGen)", nGen) { ids, ctx in
            ctx.profile = profile ? stepProfile : nil
            for id in ids { _ = try m.forward([id], context: ctx, logits: .last) }
        }
        let batchProfile = ForwardProfile()
        if batch > 0 && nGen > 0 {
            var plain = BatchedDecodeBenchmark(model: m, sequences: batch, steps: nGen, profile: profile ? batchProfile : nil)
            rows.append(("tg\(nGen)×\(batch)" + suffix, try plain.run(repetitions: repetitions, contexts: (0..<batch).map { _ in makeContext(nGen) },
                                                                    depth: depth, firstToken: { tokens(batch) })))
        }
        // With heads and a batch: every sequence runs its own controller and sampler after each step.
        var batchedHeads: BatchedDecodeBenchmark?
        if let heads, batch > 0 && nGen > 0 {
            var b = BatchedDecodeBenchmark(model: m, sequences: batch, steps: nGen, profile: nil,
                                           heads: try AutoDecoCheckpoint.load(directory: heads, for: m.config, format: headWeights))
            rows.append(("tg\(nGen)×\(batch)+heads" + suffix, try b.run(repetitions: repetitions, contexts: (0..<batch).map { _ in makeContext(nGen) },
                                                                         depth: depth, firstToken: { tokens(batch) })))
            batchedHeads = b
        }
        // With heads: a real generation (sampled tokens fed back, from a chat prompt) running the
        // controller and the sampler after every token, user T = P = 1 and no top-k/min-p, so top-p
        // runs over the whole vocabulary. Their time is also measured on its own.
        var headsNanos: UInt64 = 0, samplingNanos: UInt64 = 0, controlledTokens = 0
        var headsPerToken = [UInt64](), samplingPerToken = [UInt64]()
        if let heads {
            let controller = AutoDecoController(heads: try AutoDecoCheckpoint.load(directory: heads, for: m.config, format: headWeights), pool: m.pool)
            let prompt = lm.tokenizer.encode(try lm.renderChat([ChatMessage(role: "user", content: "Tell me a long story about the sea.")]),
                                             addSpecial: true, parseSpecial: true)
            var samples = [Double]()
            for rep in 0...repetitions {
                var sampler = Sampler(parameters: .unfiltered(seed: UInt64(rep)))
                sampler.computesLogprobs = false  // as in chat and eval; log-probabilities are an opt-in report
                let ctx = m.makeContext(capacity: prompt.count + nGen)
                var out = try m.forward(prompt, context: ctx, logits: .last)
                let start = Date()
                for _ in 0..<nGen {
                    let hidden = Array(out.hidden.suffix(m.config.hidden))
                    let next: Int32 = hidden.withUnsafeBufferPointer { h in
                        out.logits.withUnsafeMutableBufferPointer { l in
                            // As generation calls them: the weights may replace the logits.
                            let t0 = DispatchTime.now().uptimeNanoseconds
                            let d = controller.decide(hidden: h, consuming: l, maxLogit: out.logitMaxima.last, onThisThread: false)
                            let t1 = DispatchTime.now().uptimeNanoseconds
                            let s = sampler.sample(logits: UnsafeBufferPointer(l), temperature: d.temperature, topP: d.topP, weights: d.weights)
                            let t2 = DispatchTime.now().uptimeNanoseconds
                            if rep > 0 {
                                headsNanos += t1 - t0; samplingNanos += t2 - t1; controlledTokens += 1
                                headsPerToken.append(t1 - t0); samplingPerToken.append(t2 - t1)
                            }
                            return s.id
                        }
                    }
                    out = try m.forward([next], context: ctx, logits: .last)
                }
                if rep > 0 { samples.append(Double(nGen) / Date().timeIntervalSince(start)) }
            }
            rows.append(("tg\(nGen)+heads", samples))
        }
        let headsMicros = controlledTokens > 0 ? Double(headsNanos) / Double(controlledTokens) / 1000 : 0
        let samplingMicros = controlledTokens > 0 ? Double(samplingNanos) / Double(controlledTokens) / 1000 : 0
        // Medians too: on a shared machine a few preempted tokens move the means by several µs.
        func medianMicros(_ a: [UInt64]) -> Double { a.isEmpty ? 0 : Double(a.sorted()[a.count / 2]) / 1000 }
        let headsMedian = medianMicros(headsPerToken), samplingMedian = medianMicros(samplingPerToken)

        func stats(_ s: [Double]) -> (mean: Double, sd: Double) {
            let mean = s.reduce(0, +) / Double(s.count)
            let v = s.count > 1 ? s.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / Double(s.count - 1) : 0
            return (mean, v.squareRoot())
        }
        if json {
            let results = rows.map { r -> [String: Any] in
                let s = stats(r.samples)
                return ["test": r.test, "tokens_per_second": s.mean, "stddev": s.sd, "samples": r.samples]
            }
            Console.jsonLine(["model": lm.name, "path": lm.path, "size_bytes": fileSize, "threads": m.pool.threadCount,
                              "weights_bytes_per_token": m.weights.bytesPerToken, "precision": modelOptions.precision.rawValue,
                              "results": results,
                              "heads": heads.map { h -> Any in
                                  ["directory": h, "head_weights": headWeights.rawValue, "heads_us_per_token": headsMicros, "sampling_us_per_token": samplingMicros,
                                   "heads_us_median": headsMedian, "sampling_us_median": samplingMedian] } ?? NSNull(),
                              "batch_heads": batchedHeads?.microsPerToken.map { us -> Any in
                                  ["sequences": batch, "heads_and_sampling_wall_us_per_token": us.wall,
                                   "heads_thread_us_per_token": us.decide, "sampling_thread_us_per_token": us.sampling] } ?? NSNull(),
                              "profile": profile && stepProfile.passes > 0
                                  ? ProfileTable(profile: stepProfile, weights: m.weights).json() : NSNull(),
                              "batch_row_steps_in_products": batch > 0 && m.rowStepsRunInProducts(tokens: batch),
                              "batch_profile": profile && batchProfile.passes > 0
                                  ? ProfileTable(profile: batchProfile, weights: m.weights, sequences: batch).json() : NSNull()])
            return
        }
        let name = "\(m.config.architecture) \(String(format: "%.0fM", Double(params) / 1e6))"
        let size = String(format: "%.2f MiB", Double(fileSize) / 1048576)
        Console.out("| model | size | backend | threads | test | t/s |\n")
        Console.out("| ----- | ---: | ------- | ------: | ---: | --: |\n")
        for r in rows {
            let s = stats(r.samples)
            // Interpolation, not %d/%@: String(format:) read a garbage thread count here on Linux.
            Console.out("| \(name) | \(size) | Swift CPU | \(m.pool.threadCount) | \(r.test) | " + String(format: "%.2f ± %.2f |\n", s.mean, s.sd))
        }
        if profile && stepProfile.passes > 0 {
            Console.out("\n" + ProfileTable(profile: stepProfile, weights: m.weights).markdown())
        }
        if profile && batchProfile.passes > 0 {
            Console.out("\n" + ProfileTable(profile: batchProfile, weights: m.weights, sequences: batch,
                                                 rowStepsInProducts: m.rowStepsRunInProducts(tokens: batch)).markdown())
        }
        if heads != nil, let tg = rows.first(where: { $0.test == "tg\(nGen)" }) {
            let tokenMicros = 1e6 / stats(tg.samples).mean
            Console.out("\nheads' first layers: \(headWeights.rawValue)")
            Console.out(String(format: "\nheads: %.1f µs/token, full-vocabulary top-p sampling: %.1f µs/token; together %.2f%% of a tg token (%.0f µs)\n",
                               headsMicros, samplingMicros, 100 * (headsMicros + samplingMicros) / tokenMicros, tokenMicros))
            Console.out(String(format: "medians per token: heads %.1f µs, sampling %.1f µs; together %.2f%% of the tg token\n",
                               headsMedian, samplingMedian, 100 * (headsMedian + samplingMedian) / tokenMicros))
        }
        if let us = batchedHeads?.microsPerToken, let tg = rows.first(where: { $0.test == "tg\(nGen)×\(batch)" + suffix }) {
            let tokenMicros = 1e6 / stats(tg.samples).mean
            Console.out(String(format: "\nin a batch of %d (each thread decides and samples whole sequences): heads and sampling %.1f µs/token of wall time, %.2f%% of a tg×%d token (%.0f µs); thread time per token: heads %.1f µs, sampling %.1f µs\n",
                               batch, us.wall, 100 * us.wall / tokenMicros, batch, tokenMicros, us.decide, us.sampling))
        }
    }
}
