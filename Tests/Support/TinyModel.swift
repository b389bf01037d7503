import Foundation
import Kernels
import ModelFiles

/// Tiny random Llama-family models written with our GGUF writer, for tests of every layer.
public enum TinyModel {
    public struct Spec: Sendable {
        public var arch = "llama"
        public var layers = 2, hidden = 64, ffn = 96, heads = 4, kvHeads = 2, vocab = 80
        public var format: WeightFormat = .f32
        public var tied = true
        public init(arch: String = "llama", layers: Int = 2, hidden: Int = 64, ffn: Int = 96, heads: Int = 4, kvHeads: Int = 2,
                    vocab: Int = 80, format: WeightFormat = .f32, tied: Bool = true) {
            self.arch = arch; self.layers = layers; self.hidden = hidden; self.ffn = ffn; self.heads = heads
            self.kvHeads = kvHeads; self.vocab = vocab; self.format = format; self.tied = tied
        }
    }

    /// Writes a random model and returns its path; `weights` receives the float values written.
    public static func write(_ s: Spec, seed: UInt64, weights: inout [String: [Float]]) throws -> String {
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

    public static func dequantized(_ v: [Float], rows: Int, cols: Int, format: WeightFormat) -> [Float] {
        var bytes = [UInt8]()
        for r in 0..<rows { bytes += Quantizer.quantize(Array(v[(r * cols)..<((r + 1) * cols)]), to: format) }
        var out = [Float](repeating: 0, count: v.count)
        bytes.withUnsafeBytes { b in
            let m = WeightMatrix(format: format, rows: rows, cols: cols, data: b.baseAddress!)
            out.withUnsafeMutableBufferPointer { o in for r in 0..<rows { m.dequantizeRow(r, into: o.baseAddress! + r * cols) } }
        }
        return out
    }

}

extension SeededGenerator {
    /// A standard normal draw (Box-Muller), for test weights.
    public mutating func nextGaussian() -> Float {
        let u = max(Float(nextUnit()), 1e-7), v = Float(nextUnit())
        return (-2 * log(u)).squareRoot() * cos(2 * .pi * v)
    }
}
