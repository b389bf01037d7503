import Foundation
import Testing
import Kernels
import ModelFiles
import Models
import TestSupport

/// Tiny random models written with our GGUF writer, run by the engine and by a naive
/// float64 forward pass written here from the definitions (an independent implementation).
struct TinyModelTests {
    // MARK: - Naive float64 reference forward (all positions, logits [T, vocab])

    static func referenceLogits(_ s: TinyModel.Spec, _ W: [String: [Float]], tokens: [Int32]) -> [[Double]] {
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

    static let specs: [TinyModel.Spec] = [
        TinyModel.Spec(),
        TinyModel.Spec(format: .q8_0, tied: false),
        TinyModel.Spec(heads: 4, kvHeads: 4, format: .q4_1),
        TinyModel.Spec(format: .q4_0),
        TinyModel.Spec(format: .f16),
        TinyModel.Spec(format: .bf16),
        TinyModel.Spec(arch: "qwen2", format: .f32, tied: false),
        TinyModel.Spec(arch: "qwen3", hidden: 64, heads: 2, kvHeads: 1, format: .f32),
    ]

    @Test(arguments: specs.indices)
    func engineMatchesNaiveReference(index: Int) throws {
        let s = Self.specs[index]
        var W = [String: [Float]]()
        let path = try TinyModel.write(s, seed: UInt64(index + 1), weights: &W)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // Exact dequantization: float32 activations (the integer path is tested against exact/ in
        // IntegerReferenceTests and kernel by kernel in KernelsTests).
        let model = try LlamaModel(gguf: GGUFFile(path: path), threads: 2, precision: .float32)
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
        let path = try TinyModel.write(s, seed: UInt64(index + 7), weights: &W)
        defer { try? FileManager.default.removeItem(atPath: path) }
        // A float32 cache: batched and alone then differ only by summation order. (With float16,
        // a last-bit difference in a K or V value can flip its rounding, which moves that value
        // by half a float16 step, ~2.4e-4 relative: measured up to 3.8e-4 on these logits.)
        let model = try LlamaModel(gguf: GGUFFile(path: path), threads: 2, kvCache: .float32)
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

    /// The shared result of one pass hands each sequence exactly its own rows: hidden states for
    /// all its tokens and logits for none, the last or all of them, as a pass of its own would.
    @Test func sharedPassOutputGivesEachSequenceItsRows() throws {
        let s = Self.specs[0]
        var W = [String: [Float]]()
        let path = try TinyModel.write(s, seed: 21, weights: &W)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try LlamaModel(gguf: GGUFFile(path: path), threads: 2)
        let prompts: [[Int32]] = [[1, 5, 9], [7, 3, 2, 8], [11], [4, 6]]
        let requests: [LogitsRequest] = [.none, .all, .last, .last]
        let alone = try zip(prompts, requests).map { try model.forward($0, context: model.makeContext(capacity: 8), logits: $1) }
        let ctxs = prompts.map { _ in model.makeContext(capacity: 8) }
        let pass = try model.forwardPass(batch: zip(zip(prompts, ctxs), requests).map {
            SequenceStep(tokens: $0.0, context: $0.1, logits: $1)
        }, workspace: model.makeWorkspace())
        #expect(pass.count == 4)
        #expect(pass.logits.count == (0 + 4 + 1 + 1) * s.vocab)
        for i in 0..<4 {
            #expect(pass.tokenCount(i) == prompts[i].count)
            let (hidden, logits) = pass.withRows(of: i) { (Array($0), Array($1)) }
            #expect(hidden.count == alone[i].hidden.count && logits.count == alone[i].logits.count)
            #expect(pass.output(i).hidden == hidden && pass.output(i).logits == logits)
            let worst = zip(hidden + logits, alone[i].hidden + alone[i].logits).map { abs($0 - $1) }.max() ?? 0
            #expect(worst < 1e-4, "sequence \(i): max |shared pass - alone| = \(worst)")
            #expect(pass.lastMaxLogit(of: i) == (logits.isEmpty ? nil : logits.suffix(s.vocab).max()))
        }
    }

    /// The LM head's threads take every logit row's maximum as they write it (the AutoDeco
    /// statistics start from it): exactly the row's largest logit, in every precision and
    /// format (the packed VNNI kernels from their registers, the others after the product), for
    /// one row and for many.
    @Test(arguments: specs.indices, ActivationPrecision.allCases)
    func logitMaximaAreEachRowsLargestLogit(index: Int, precision: ActivationPrecision) throws {
        let s = Self.specs[index]
        var W = [String: [Float]]()
        let path = try TinyModel.write(s, seed: UInt64(index + 40), weights: &W)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let model = try LlamaModel(gguf: GGUFFile(path: path), threads: 2, precision: precision)
        let tokens: [Int32] = (0..<9).map { Int32(($0 * 29 + 3) % s.vocab) }
        let all = try model.forward(tokens, context: model.makeContext(capacity: 16), logits: .all)
        #expect(all.logitMaxima.count == tokens.count)
        for t in tokens.indices { #expect(all.logitMaxima[t] == all.logits[(t * s.vocab)..<((t + 1) * s.vocab)].max()) }
        let last = try model.forward(tokens, context: model.makeContext(capacity: 16), logits: .last)
        #expect(last.logitMaxima == [last.logits.max()!])
    }

    /// The integer precisions keep K and V in float16 (half the bytes), float32 keeps them exact; a
    /// copied prefix continues exactly as the original cache does.
    @Test func kvCacheElementFollowsPrecisionAndCopiesExactly() throws {
        var W = [String: [Float]]()
        let path = try TinyModel.write(Self.specs[0], seed: 23, weights: &W)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let exact = try LlamaModel(gguf: GGUFFile(path: path), threads: 2, precision: .float32)
        let model = try LlamaModel(gguf: GGUFFile(path: path), threads: 2)
        #expect(exact.kvCacheElement == .float32 && model.kvCacheElement == .float16)
        #expect(2 * model.makeContext(capacity: 16).cache.byteCount == exact.makeContext(capacity: 16).cache.byteCount)
        for m in [model, exact] {
            let original = m.makeContext(capacity: 16), copy = m.makeContext(capacity: 16)
            _ = try m.forward([1, 5, 9, 13, 2], context: original, logits: .none)
            copy.cache.copyPrefix(from: original.cache, count: 3)
            original.cache.truncate(to: 3)
            let a = try m.forward([7, 8], context: original, logits: .all), b = try m.forward([7, 8], context: copy, logits: .all)
            #expect(a.logits == b.logits, "\(m.kvCacheElement)")
        }
    }

    @Test func missingTensorAndWrongShapeAreNamed() throws {
        var W = [String: [Float]]()
        let s = TinyModel.Spec()
        let good = try TinyModel.write(s, seed: 99, weights: &W)
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

