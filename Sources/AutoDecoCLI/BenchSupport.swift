import AutoDeco
import Foundation

/// tgN×B: B sequences decoded together, N steps of one batched forward pass each (every
/// sequence gets its logits, as in generation). Samples are aggregate tokens/s.
struct BatchedDecodeBenchmark {
    let model: LlamaModel
    let sequences: Int
    let steps: Int
    /// Charged with the timed repetitions' forward steps when given.
    let profile: ForwardProfile?
    /// tgN×B+heads: each sequence's own AutoDeco controller and full-vocabulary top-p sampler
    /// (user T = P = 1) pick its next token, as the batch generator runs them (each thread of the
    /// pool takes whole sequences); nil feeds back argmax.
    let heads: AutoDecoHeads?
    /// Over the timed repetitions: the wall time of the steps' decide-and-sample regions, the
    /// threads' time inside decisions and inside sampling, and the tokens decided.
    private(set) var wallNanos: UInt64 = 0, decideNanos: UInt64 = 0, samplingNanos: UInt64 = 0, decidedTokens = 0

    /// µs per decided token: wall (both threads at work), and thread time in the decisions and in
    /// the sampling (nil before a timed run with heads).
    var microsPerToken: (wall: Double, decide: Double, sampling: Double)? {
        guard decidedTokens > 0 else { return nil }
        let n = Double(decidedTokens) * 1000
        return (Double(wallNanos) / n, Double(decideNanos) / n, Double(samplingNanos) / n)
    }

    init(model: LlamaModel, sequences: Int, steps: Int, profile: ForwardProfile?, heads: AutoDecoHeads? = nil) {
        self.model = model; self.sequences = sequences; self.steps = steps; self.profile = profile; self.heads = heads
    }

    /// `contexts` (one per sequence, room for `depth + steps` positions) are emptied back to `depth` before each repetition.
    mutating func run(repetitions: Int, contexts: [ModelContext], depth: Int, firstToken: () -> [Int32]) throws -> [Double] {
        let workspace = model.makeWorkspace()
        let first = firstToken()
        var samples = [Double]()
        let controllers = heads.map { h in (0..<sequences).map { _ in AutoDecoController(heads: h, pool: model.pool) } }
        let H = model.config.hidden
        for rep in 0...repetitions {
            contexts.forEach { $0.cache.truncate(to: depth) }
            workspace.profile = rep > 0 ? profile : nil
            var samplers = controllers == nil ? [Sampler]() : (0..<sequences).map { i in
                var s = Sampler(parameters: .unfiltered(seed: UInt64(rep * sequences + i)))
                s.computesLogprobs = false
                return s
            }
            var next = first
            let start = Date()
            for _ in 0..<steps {
                var pass = try model.forwardPass(batch: contexts.indices.map {
                    SequenceStep(tokens: [next[$0]], context: contexts[$0], logits: .last)
                }, workspace: workspace)
                guard let controllers else {
                    // Without heads: each sequence's argmax, so the sequences differ, as in real decoding.
                    next = (0..<pass.count).map { i in pass.withRows(of: i) { _, l in Int32(VectorOps.argmax(l.baseAddress!, n: l.count).index) } }
                    continue
                }
                // With heads: each thread takes every n-th sequence whole (its controller decides
                // on that thread alone, then its sampler draws), as the batch generator runs them.
                let pool = model.pool
                var ids = [Int32](repeating: 0, count: pass.count)
                // Per thread: nanoseconds in decisions and in sampling.
                var times = [(decide: UInt64, sampling: UInt64)](repeating: (0, 0), count: pool.threadCount)
                let start = DispatchTime.now().uptimeNanoseconds
                ids.withUnsafeMutableBufferPointer { idBuffer in
                    samplers.withUnsafeMutableBufferPointer { samplerBuffer in
                        times.withUnsafeMutableBufferPointer { timeBuffer in
                            let out = idBuffer, samplers = samplerBuffer, times = timeBuffer
                            let count = pass.count
                            let maxima = (0..<count).map { pass.lastMaxLogit(of: $0) }
                            pass.withWritableRows { rows in
                                pool.runDealing(count) { thread, i in
                                    let (hidden, l) = rows(i)
                                    let h = UnsafeBufferPointer(rebasing: hidden[(hidden.count - H)...])
                                    // As the batch generator calls them: the weights may replace the logits.
                                    let t0 = DispatchTime.now().uptimeNanoseconds
                                    let d = controllers[i].decide(hidden: h, consuming: l, maxLogit: maxima[i], onThisThread: true)
                                    let t1 = DispatchTime.now().uptimeNanoseconds
                                    out[i] = samplers[i].sample(logits: UnsafeBufferPointer(l), temperature: d.temperature, topP: d.topP, weights: d.weights).id
                                    times[thread].decide += t1 - t0
                                    times[thread].sampling += DispatchTime.now().uptimeNanoseconds - t1
                                }
                            }
                        }
                    }
                }
                if rep > 0 {
                    wallNanos += DispatchTime.now().uptimeNanoseconds - start
                    decideNanos += times.reduce(0) { $0 + $1.decide }; samplingNanos += times.reduce(0) { $0 + $1.sampling }
                    decidedTokens += pass.count
                }
                next = ids
            }
            if rep > 0 { samples.append(Double(sequences * steps) / Date().timeIntervalSince(start)) }
        }
        return samples
    }
}

/// Where the time of a decoded token goes, per forward step, with the bandwidth at which the
/// matrix products stream their weights (once per pass, whatever the number of sequences in it).
struct ProfileTable {
    let profile: ForwardProfile
    let weights: LlamaWeights
    /// Sequences decoded together in each pass: times are reported per token, i.e. per pass / this.
    var sequences = 1
    /// Whether the passes ran the rows' residual adds and norms inside the products.
    var rowStepsInProducts = false

    /// Weight bytes a step reads per token (matrix products only).
    func weightBytes(_ step: ForwardStep) -> Int {
        let l = weights.layers
        switch step {
        case .qkv: return l.reduce(0) { $0 + $1.wq.byteCount + $1.wk.byteCount + $1.wv.byteCount }
        case .attentionOutput: return l.reduce(0) { $0 + $1.wo.byteCount }
        case .gateUp: return l.reduce(0) { $0 + $1.gate.byteCount + $1.up.byteCount }
        case .down: return l.reduce(0) { $0 + $1.down.byteCount }
        case .lmHead: return weights.output.byteCount
        default: return 0
        }
    }

    var rows: [(step: ForwardStep, micros: Double, share: Double, gbPerSecond: Double?)] {
        let passes = Double(max(profile.passes, 1)), tokens = passes * Double(sequences)
        let total = Double(profile.nanoseconds.reduce(0, +))
        return ForwardStep.allCases.map { step in
            let ns = Double(profile.nanoseconds[step.rawValue])
            let bytes = Double(weightBytes(step))
            return (step, ns / tokens / 1000, total > 0 ? ns / total : 0, bytes > 0 && ns > 0 ? bytes * passes / ns : nil)
        }
    }

    func markdown() -> String {
        let tokens = Double(max(profile.passes, 1) * sequences)
        let totalMicros = Double(profile.nanoseconds.reduce(0, +)) / tokens / 1000
        let what = sequences == 1 ? "Per generated token" : "Per token of \(sequences) sequences decoded together"
        var s = what + String(format: " (%d passes, %.1f µs/token inside the forward pass):\n\n", profile.passes, totalMicros)
        s += "| step | µs/token | share | weights GB/s |\n| ---- | -------: | ----: | -----------: |\n"
        for r in rows {
            s += String(format: "| %@ | %.1f | %.1f%% | %@ |\n", r.step.name, r.micros, 100 * r.share,
                        r.gbPerSecond.map { String(format: "%.1f", $0) } ?? "")
        }
        if rowStepsInProducts {
            s += "\n(In a pass of \(sequences) rows each layer's residual adds and RMSNorms run as part of the product after them, in its parallel quantize step, and are counted there; only the last layer's residual is timed on its own.)\n"
        }
        return s
    }

    func json() -> [[String: Any]] {
        rows.map { r in
            ["step": r.step.name, "us_per_token": r.micros, "share": r.share,
             "weights_gb_per_second": r.gbPerSecond.map { $0 as Any } ?? NSNull()]
        }
    }
}

/// The two ceilings of this machine that bound decoding and prompt processing: memory read
/// bandwidth (a decode step streams every weight byte once) and the float multiply-add rate of
/// our own tiled matrix product.
struct MachineCeilings {
    let pool: ThreadPool

    /// GB/s reading a 512 MiB buffer (far beyond the caches) with all pool threads, best of 3.
    func readBandwidth() -> Double {
        let count = 128 << 20  // floats
        let buffer = UnsafeMutablePointer<Float>.allocate(capacity: count)
        defer { buffer.deallocate() }
        pool.parallelFor(count) { r in (buffer + r.lowerBound).initialize(repeating: 1, count: r.count) }
        var best = 0.0
        for _ in 0..<3 {
            let sums = UnsafeMutablePointer<Float>.allocate(capacity: pool.threadCount)
            defer { sums.deallocate() }
            let start = Date()
            pool.run { t in
                let mine = ThreadPool.part(t, of: pool.threadCount, count: count), lo = mine.lowerBound, hi = mine.upperBound
                var a = SIMD16<Float>(), b = SIMD16<Float>()
                var i = lo
                while i + 32 <= hi {
                    a += UnsafeRawPointer(buffer + i).loadUnaligned(as: SIMD16<Float>.self)
                    b += UnsafeRawPointer(buffer + i + 16).loadUnaligned(as: SIMD16<Float>.self)
                    i += 32
                }
                sums[t] = (a + b).sum()
            }
            best = max(best, Double(count * 4) / Date().timeIntervalSince(start) / 1e9)
            precondition(sums[0] > 0)  // keeps the loads
        }
        return best
    }

    /// G multiply-adds/s of 512-bit VNNI dot-product instructions (int16 `vpdpwssd` or int8
    /// `vpdpbusd`) with every pool thread at once, registers only: the compute ceiling of the
    /// integer matrix products; nil without AVX-512 VNNI.
    func vnniPeakGMACs(bits: Int) -> Double? {
        let rates = UnsafeMutablePointer<Double>.allocate(capacity: pool.threadCount)
        defer { rates.deallocate() }
        pool.run { t in rates[t] = MatMul.vnniPeakMACs(bits: bits, rounds: 20_000_000) }
        let total = (0..<pool.threadCount).reduce(0) { $0 + rates[$1] }
        return total > 0 ? total / 1e9 : nil
    }

    /// GFLOP/s of the float32 tiled matrix product (1536 x 576 weights, 512 tokens), best of 3.
    func floatMatmulGFLOPs() -> Double {
        let rows = 1536, cols = 576, tokens = 512
        var weights = [Float](repeating: 0, count: rows * cols)
        for i in weights.indices { weights[i] = Float(i % 97) / 97 - 0.5 }
        let x = (0..<(tokens * cols)).map { Float($0 % 89) / 89 - 0.5 }
        var y = [Float](repeating: 0, count: tokens * rows)
        var best = 0.0
        weights.withUnsafeBytes { w in
            let matrix = WeightMatrix(format: .f32, rows: rows, cols: cols, data: w.baseAddress!)
            x.withUnsafeBufferPointer { xp in
                y.withUnsafeMutableBufferPointer { yp in
                    for _ in 0..<3 {
                        let start = Date()
                        pool.parallelFor(rows) { r in
                            var panel = [Float](repeating: 0, count: 4 * cols)  // each thread's own
                            panel.withUnsafeMutableBufferPointer { p in
                                MatMul.matmul(matrix, xp.baseAddress!, tokens: tokens, yp.baseAddress!, ldy: rows, rows: r, panel: p.baseAddress!)
                            }
                        }
                        best = max(best, 2.0 * Double(rows * cols * tokens) / Date().timeIntervalSince(start) / 1e9)
                    }
                }
            }
        }
        return best
    }
}
