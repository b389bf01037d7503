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

    @Option(name: [.customShort("r"), .customLong("repetitions")], help: "Repetitions of each test.")
    var repetitions: Int = 5

    @Flag(name: .long, help: "Print JSON instead of the table.")
    var json = false

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        guard repetitions >= 1, nPrompt >= 0, nGen >= 0 else { throw ValidationError("counts must be positive") }
        let lm = try modelOptions.load()
        let m = lm.model
        let fileSize = (try? FileManager.default.attributesOfItem(atPath: lm.path)[.size] as? Int) ?? 0
        let params = m.config.weightMACsPerToken
        var rows: [(test: String, samples: [Double])] = []
        // Deterministic, non-special token ids.
        let tokens = { (n: Int) in (0..<n).map { Int32(100 + ($0 * 7919) % max(m.config.vocab - 200, 1)) } }

        // One warm-up run, then `repetitions` timed runs on an emptied KV cache.
        func measure(_ test: String, _ n: Int, _ run: ([Int32], ModelContext) throws -> Void) rethrows {
            guard n > 0 else { return }
            let ids = tokens(n)
            let ctx = m.makeContext(capacity: n)
            var samples = [Double]()
            for rep in 0...repetitions {
                ctx.cache.truncate(to: 0)
                let t0 = Date()
                try run(ids, ctx)
                if rep > 0 { samples.append(Double(n) / Date().timeIntervalSince(t0)) }
            }
            rows.append((test, samples))
        }
        try measure("pp\(nPrompt)", nPrompt) { ids, ctx in _ = try m.forward(ids, context: ctx, logits: .last) }
        try measure("tg\(nGen)", nGen) { ids, ctx in for id in ids { _ = try m.forward([id], context: ctx, logits: .last) } }

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
                              "weights_bytes_per_token": m.weights.bytesPerToken, "results": results])
            return
        }
        let name = "\(m.config.architecture) \(String(format: "%.0fM", Double(params) / 1e6))"
        let size = String(format: "%.2f MiB", Double(fileSize) / 1048576)
        Console.out("| model | size | backend | threads | test | t/s |\n")
        Console.out("| ----- | ---: | ------- | ------: | ---: | --: |\n")
        for r in rows {
            let s = stats(r.samples)
            Console.out(String(format: "| %@ | %@ | Swift CPU | %d | %@ | %.2f ± %.2f |\n", name, size, m.pool.threadCount, r.test, s.mean, s.sd))
        }
    }
}
