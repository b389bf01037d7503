import Foundation
import Testing
import Kernels
import ModelFiles
import Models

/// Tiny random models written with our GGUF writer, run by the engine and by a naive
/// float64 forward pass written here from the definitions (an independent implementation).
struct TinyModelTests {
    struct Spec {
        var arch = "llama"
        var layers = 2, hidden = 64, ffn = 96, heads = 4, kvHeads = 2, vocab = 80
        var format: WeightFormat = .f32
        var tied = true
    }

    /// Writes a random model and returns its path; `weights` receives the float values written.
    static func writeModel(_ s: Spec, seed: UInt64, weights: inout [String: [Float]]) throws -> String {
        var rng = SeededGenerator(seed: seed)
        var w = GGUFWriter()
        w.set("general.architecture", .string(s.arch))
        w.set("\(s.arch).block_count", .uint32(UInt32(s.layers)))
        w.set("\(s.arch).embedding_length", .uint32(UInt32(s.hidden)))
        w.set("\(s.arch).feed_forward_length", .uint32(UInt32(s.ffn)))
        w.set("\(s.arch).attention.head_count", .uint32(UInt32(s.heads)))
        w.set("\(s.arch).attention.head_count_kv", .uint32(UInt32(s.kvHeads)))
        w.set("\(s.arch).context_length", .uint32(256))
        w.set("\(s.arch).vocab_size", .uint32(UInt32(s.vocab)))
        w.set("\(s.arch).rope.freq_base", .float32(10000))
        w.set("\(s.arch).attention.layer_norm_rms_epsilon", .float32(1e-5))
        let hd = s.hidden / s.heads
        func add(_ name: String, rows: Int, cols: Int, scale: Float, format: WeightFormat, offset: Float = 0) throws {
            let v = (0..<(rows * cols)).map { _ in offset + scale * rng.nextGaussian() }
            try w.addTensor(name: name, shape: rows == 1 ? [cols] : [cols, rows], floats: v, as: format)
            // Keep what the engine will actually see: the dequantized values.
            weights[name] = dequantized(v, rows: rows, cols: cols, format: format)
        }
        try add("token_embd.weight", rows: s.vocab, cols: s.hidden, scale: 1, format: s.format)
        try add("output_norm.weight", rows: 1, cols: s.hidden, scale: 0.1, format: .f32, offset: 1)
        if !s.tied { try add("output.weight", rows: s.vocab, cols: s.hidden, scale: 0.2, format: s.format) }
        for l in 0..<s.layers {
            let p = "blk.\(l)."
            try add(p + "attn_norm.weight", rows: 1, cols: s.hidden, scale: 0.1, format: .f32, offset: 1)
            try add(p + "attn_q.weight", rows: s.heads * hd, cols: s.hidden, scale: 0.2, format: s.format)
            try add(p + "attn_k.weight", rows: s.kvHeads * hd, cols: s.hidden, scale: 0.2, format: s.format)
            try add(p + "attn_v.weight", rows: s.kvHeads * hd, cols: s.hidden, scale: 0.2, format: s.format)
            try add(p + "attn_output.weight", rows: s.hidden, cols: s.heads * hd, scale: 0.2, format: s.format)
            try add(p + "ffn_norm.weight", rows: 1, cols: s.hidden, scale: 0.1, format: .f32, offset: 1)
            try add(p + "ffn_gate.weight", rows: s.ffn, cols: s.hidden, scale: 0.2, format: s.format)
            try add(p + "ffn_up.weight", rows: s.ffn, cols: s.hidden, scale: 0.2, format: s.format)
            try add(p + "ffn_down.weight", rows: s.hidden, cols: s.ffn, scale: 0.2, format: s.format)
            if s.arch == "qwen2" {
                try add(p + "attn_q.bias", rows: 1, cols: s.heads * hd, scale: 0.1, format: .f32)
                try add(p + "attn_k.bias", rows: 1, cols: s.kvHeads * hd, scale: 0.1, format: .f32)
                try add(p + "attn_v.bias", rows: 1, cols: s.kvHeads * hd, scale: 0.1, format: .f32)
            }
            if s.arch == "qwen3" {
                try add(p + "attn_q_norm.weight", rows: 1, cols: hd, scale: 0.1, format: .f32, offset: 1)
                try add(p + "attn_k_norm.weight", rows: 1, cols: hd, scale: 0.1, format: .f32, offset: 1)
            }
        }
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("tiny-\(s.arch)-\(seed)-\(UUID().uuidString).gguf").path
        try w.write(to: path)
        return path
    }

    static func dequantized(_ v: [Float], rows: Int, cols: Int, format: WeightFormat) -> [Float] {
        var bytes = [UInt8]()
        for r in 0..<rows { bytes += Quantizer.quantize(Array(v[(r * cols)..<((r + 1) * cols)]), to: format) }
        var out = [Float](repeating: 0, count: v.count)
        bytes.withUnsafeBytes { b in
            let m = WeightMatrix(format: format, rows: rows, cols: cols, data: b.baseAddress!)
            out.withUnsafeMutableBufferPointer { o in for r in 0..<rows { m.dequantizeRow(r, into: o.baseAddress! + r * cols) } }
        }
        return out
    }

    // MARK: - Naive float64 reference forward (all positions, logits [T, vocab])

    static func referenceLogits(_ s: Spec, _ W: [String: [Float]], tokens: [Int32]) -> [[Double]] {
        let H = s.hidden, hd = H / s.heads, T = tokens.count
        let splitHalf = s.arch != "llama"
        func mat(_ name: String, _ x: [Double], rows: Int) -> [Double] {
            let w = W[name]!, cols = x.count
            return (0..<rows).map { r in (0..<cols).reduce(0.0) { $0 + Double(w[r * cols + $1]) * x[$1] } }
        }
        func rms(_ x: [Double], _ name: String) -> [Double] {
            let w = W[name]!
            let s = 1 / (x.reduce(0) { $0 + $1 * $1 } / Double(x.count) + 1e-5).squareRoot()
            return x.indices.map { x[$0] * s * Double(w[$0]) }
        }
        func rope(_ v: inout [Double], pos: Int) {
            for i in 0..<(hd / 2) {
                let a = Double(pos) * pow(10000, -2 * Double(i) / Double(hd))
                let (j, k) = splitHalf ? (i, i + hd / 2) : (2 * i, 2 * i + 1)
                let x = v[j], y = v[k]
                v[j] = x * cos(a) - y * sin(a); v[k] = x * sin(a) + y * cos(a)
            }
        }
        var xs = tokens.map { t in (0..<H).map { Double(W["token_embd.weight"]![Int(t) * H + $0]) } }
        for l in 0..<s.layers {
            let p = "blk.\(l)."
            var Q = [[Double]](), K = [[Double]](), V = [[Double]]()
            for t in 0..<T {
                let xn = rms(xs[t], p + "attn_norm.weight")
                var q = mat(p + "attn_q.weight", xn, rows: s.heads * hd)
                var k = mat(p + "attn_k.weight", xn, rows: s.kvHeads * hd)
                var v = mat(p + "attn_v.weight", xn, rows: s.kvHeads * hd)
                if let bq = W[p + "attn_q.bias"], let bk = W[p + "attn_k.bias"], let bv = W[p + "attn_v.bias"] {
                    for i in q.indices { q[i] += Double(bq[i]) }
                    for i in k.indices { k[i] += Double(bk[i]); v[i] += Double(bv[i]) }
                }
                var qh = (0..<s.heads).map { Array(q[($0 * hd)..<(($0 + 1) * hd)]) }
                var kh = (0..<s.kvHeads).map { Array(k[($0 * hd)..<(($0 + 1) * hd)]) }
                if W[p + "attn_q_norm.weight"] != nil {
                    qh = qh.map { rms($0, p + "attn_q_norm.weight") }; kh = kh.map { rms($0, p + "attn_k_norm.weight") }
                }
                for i in qh.indices { rope(&qh[i], pos: t) }
                for i in kh.indices { rope(&kh[i], pos: t) }
                Q.append(qh.flatMap { $0 }); K.append(kh.flatMap { $0 }); V.append(v)
            }
            for t in 0..<T {
                var att = [Double](repeating: 0, count: s.heads * hd)
                for h in 0..<s.heads {
                    let g = h / (s.heads / s.kvHeads)
                    let sc = (0...t).map { u in (0..<hd).reduce(0.0) { $0 + Q[t][h * hd + $1] * K[u][g * hd + $1] } / Double(hd).squareRoot() }
                    let m = sc.max()!, e = sc.map { exp($0 - m) }, z = e.reduce(0, +)
                    for u in 0...t { for i in 0..<hd { att[h * hd + i] += e[u] / z * V[u][g * hd + i] } }
                }
                let o = mat(p + "attn_output.weight", att, rows: H)
                for i in 0..<H { xs[t][i] += o[i] }
                let xn = rms(xs[t], p + "ffn_norm.weight")
                let gt = mat(p + "ffn_gate.weight", xn, rows: s.ffn), up = mat(p + "ffn_up.weight", xn, rows: s.ffn)
                let hmid = gt.indices.map { gt[$0] / (1 + exp(-gt[$0])) * up[$0] }
                let d = mat(p + "ffn_down.weight", hmid, rows: H)
                for i in 0..<H { xs[t][i] += d[i] }
            }
        }
        let out = s.tied ? "token_embd.weight" : "output.weight"
        return xs.map { mat(out, rms($0, "output_norm.weight"), rows: s.vocab) }
    }

    static let specs: [Spec] = [
        Spec(),
        Spec(format: .q8_0, tied: false),
        Spec(heads: 4, kvHeads: 4, format: .q4_1),
        Spec(format: .q4_0),
        Spec(format: .f16),
        Spec(format: .bf16),
        Spec(arch: "qwen2", format: .f32, tied: false),
        Spec(arch: "qwen3", hidden: 64, heads: 2, kvHeads: 1, format: .f32),
    ]

    @Test(arguments: specs.indices)
    func engineMatchesNaiveReference(index: Int) throws {
        let s = Self.specs[index]
        var W = [String: [Float]]()
        let path = try Self.writeModel(s, seed: UInt64(index + 1), weights: &W)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try LlamaModel(gguf: GGUFFile(path: path), threads: 2)
        #expect(model.weights.tiedEmbeddings == s.tied)
        let tokens: [Int32] = (0..<11).map { Int32(($0 * 37 + 5) % s.vocab) }
        let ref = Self.referenceLogits(s, W, tokens: tokens)

        // Batched prefill, all positions.
        let out = try model.forward(tokens, context: model.makeContext(capacity: 32), logits: .all)
        var worst = 0.0
        for t in tokens.indices { for v in 0..<s.vocab { worst = max(worst, abs(Double(out.logits[t * s.vocab + v]) - ref[t][v])) } }
        #expect(worst < 2e-3, "\(s.arch) \(s.format): max |logit - float64 reference| = \(worst)")

        // Token-by-token through the KV cache.
        let ctx = model.makeContext(capacity: 32)
        var worstStep = 0.0
        for (t, id) in tokens.enumerated() {
            let one = try model.forward([id], context: ctx, logits: .last)
            for v in 0..<s.vocab { worstStep = max(worstStep, abs(Double(one.logits[v]) - ref[t][v])) }
        }
        #expect(worstStep < 2e-3, "decode path: \(worstStep)")
    }

    /// Several sequences in one pass (a prefill of one, single decode steps of others at different
    /// positions) give each sequence what it gets when run alone.
    @Test(arguments: [0, 3])
    func batchedSequencesMatchSeparateRuns(index: Int) throws {
        let s = Self.specs[index]
        var W = [String: [Float]]()
        let path = try Self.writeModel(s, seed: UInt64(index + 7), weights: &W)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try LlamaModel(gguf: GGUFFile(path: path), threads: 2)
        let prompts: [[Int32]] = [[1, 5, 9, 13, 2], [7, 3], [11, 12, 13, 14, 15, 16, 17], [4]]
        let next: [[Int32]] = [[8], [6, 2, 9], [20], [30, 31]]
        // Alone: prompt, then the next tokens one by one.
        var alone = [[Float]]()
        for (p, n) in zip(prompts, next) {
            let ctx = model.makeContext(capacity: 32)
            var l = try model.forward(p, context: ctx, logits: .last).logits
            for t in n { l += try model.forward([t], context: ctx, logits: .all).logits }
            alone.append(l)
        }
        // Together: one pass with all prompts, then every step in one pass (the second sequence
        // sends its remaining tokens as a chunk; the others one token a step).
        let ws = model.makeWorkspace()
        let ctxs = prompts.map { _ in model.makeContext(capacity: 32) }
        var together = try model.forward(batch: zip(prompts, ctxs).map { SequenceStep(tokens: $0, context: $1, logits: .last) },
                                         workspace: ws).map { $0.logits }
        let step1 = try model.forward(batch: [SequenceStep(tokens: next[0], context: ctxs[0], logits: .all),
                                              SequenceStep(tokens: next[1], context: ctxs[1], logits: .all),
                                              SequenceStep(tokens: next[2], context: ctxs[2], logits: .all),
                                              SequenceStep(tokens: [next[3][0]], context: ctxs[3], logits: .all)], workspace: ws)
        for i in 0..<4 { together[i] += step1[i].logits }
        together[3] += try model.forward(batch: [SequenceStep(tokens: [next[3][1]], context: ctxs[3], logits: .all)], workspace: ws)[0].logits
        for i in 0..<4 {
            #expect(together[i].count == alone[i].count)
            let worst = zip(together[i], alone[i]).map { abs($0 - $1) }.max() ?? .infinity
            #expect(worst < 1e-4, "sequence \(i): max |batched - alone| = \(worst)")
            #expect(ctxs[i].cache.length == prompts[i].count + next[i].count)
        }
        #expect(throws: ModelError.duplicateContextInBatch) {
            _ = try model.forward(batch: [SequenceStep(tokens: [1], context: ctxs[0], logits: .none),
                                          SequenceStep(tokens: [2], context: ctxs[0], logits: .none)], workspace: ws)
        }
    }

    @Test func missingTensorAndWrongShapeAreNamed() throws {
        var W = [String: [Float]]()
        let s = Spec()
        let good = try Self.writeModel(s, seed: 99, weights: &W)
        defer { try? FileManager.default.removeItem(atPath: good) }
        let f = try GGUFFile(path: good)
        // Re-write the same file without one tensor and with a wrong shape for another.
        var w = GGUFWriter()
        for k in f.metadataKeys { w.set(k, f.metadata[k]!) }
        for t in f.tensorInfos where t.name != "blk.1.ffn_up.weight" {
            let shape = t.name == "blk.0.attn_k.weight" ? [s.hidden, 8] : t.shape
            let bytes = Array(f.tensorBytes(t))
            try w.addTensor(name: t.name, shape: shape, type: t.type, data: t.name == "blk.0.attn_k.weight" ? Array(bytes[0..<(8 * s.hidden * 4)]) : bytes)
        }
        let bad = good + ".bad.gguf"
        try w.write(to: bad)
        defer { try? FileManager.default.removeItem(atPath: bad) }
        #expect(throws: GGUFError.wrongTensorShape(path: bad, name: "blk.0.attn_k.weight", expected: [64, 32], found: [64, 8])) {
            _ = try LlamaModel(gguf: GGUFFile(path: bad))
        }
    }
}

extension SeededGenerator {
    /// A standard normal draw (Box-Muller), for test weights.
    mutating func nextGaussian() -> Float {
        let u = max(Float(nextUnit()), 1e-7), v = Float(nextUnit())
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
