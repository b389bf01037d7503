// Quantized block formats as ggml lays them out. Each block holds 32 values.
//   Q4_0: f16 d, 16 bytes of nibbles; x = (q - 8) * d
//   Q4_1: f16 d, f16 m, 16 bytes of nibbles; x = q * d + m
//   Q8_0: f16 d, 32 int8; x = q * d
// In a nibble block, byte j holds value j (low nibble) and value j + 16 (high nibble).

public enum Q4_0 {
    public static let blockValues = 32
    public static let blockBytes = 18
}

public enum Q4_1 {
    public static let blockValues = 32
    public static let blockBytes = 20
}

public enum Q8_0 {
    public static let blockValues = 32
    public static let blockBytes = 34
}

/// Element formats of weight matrices.
public enum WeightFormat: Sendable, Equatable {
    case f32, f16, bf16, q4_0, q4_1, q8_0

    /// (values, bytes) per block.
    public var block: (values: Int, bytes: Int) {
        switch self {
        case .f32: return (1, 4)
        case .f16, .bf16: return (1, 2)
        case .q4_0: return (32, Q4_0.blockBytes)
        case .q4_1: return (32, Q4_1.blockBytes)
        case .q8_0: return (32, Q8_0.blockBytes)
        }
    }

    public func rowBytes(_ cols: Int) -> Int { cols / block.values * block.bytes }
}

// MARK: - Quantization (reference quality, used to write test models)

public enum Quantizer {
    /// Quantize one row of floats (count a multiple of the block size) to `format`.
    public static func quantize(_ x: [Float], to format: WeightFormat) -> [UInt8] {
        var out = [UInt8](repeating: 0, count: format.rowBytes(x.count))
        out.withUnsafeMutableBytes { o in
            guard let base = o.baseAddress else { return }
            switch format {
            case .f32:
                for (i, v) in x.enumerated() { base.storeBytes(of: v.bitPattern, toByteOffset: 4 * i, as: UInt32.self) }
            case .f16:
                for (i, v) in x.enumerated() { storeF16(v, base, 2 * i) }
            case .bf16:
                for (i, v) in x.enumerated() { base.storeBytes(of: bf16Bits(v), toByteOffset: 2 * i, as: UInt16.self) }
            case .q8_0:
                for b in 0..<(x.count / 32) {
                    let blk = base + b * Q8_0.blockBytes
                    let vals = x[(b * 32)..<(b * 32 + 32)]
                    let amax = vals.map { abs($0) }.max() ?? 0
                    let d = amax / 127
                    storeF16(d, blk, 0)
                    let id: Float = d == 0 ? 0 : 1 / d
                    for (j, v) in vals.enumerated() {
                        blk.storeBytes(of: Int8(clamping: Int((v * id).rounded())), toByteOffset: 2 + j, as: Int8.self)
                    }
                }
            case .q4_0:
                for b in 0..<(x.count / 32) {
                    let blk = base + b * Q4_0.blockBytes
                    let vals = Array(x[(b * 32)..<(b * 32 + 32)])
                    // ggml: d = max / -8 where max is the value of largest magnitude (keeps its sign).
                    var maxv: Float = 0
                    for v in vals where abs(v) > abs(maxv) { maxv = v }
                    let d = maxv / -8
                    storeF16(d, blk, 0)
                    let id: Float = d == 0 ? 0 : 1 / d
                    for j in 0..<16 {
                        let lo = UInt8(min(15, max(0, Int((vals[j] * id + 8.5).rounded(.down)))))
                        let hi = UInt8(min(15, max(0, Int((vals[j + 16] * id + 8.5).rounded(.down)))))
                        blk.storeBytes(of: lo | (hi << 4), toByteOffset: 2 + j, as: UInt8.self)
                    }
                }
            case .q4_1:
                for b in 0..<(x.count / 32) {
                    let blk = base + b * Q4_1.blockBytes
                    let vals = Array(x[(b * 32)..<(b * 32 + 32)])
                    let lo = vals.min() ?? 0, hi = vals.max() ?? 0
                    let d = (hi - lo) / 15
                    storeF16(d, blk, 0)
                    storeF16(lo, blk, 2)
                    let id: Float = d == 0 ? 0 : 1 / d
                    for j in 0..<16 {
                        let a = UInt8(min(15, max(0, Int(((vals[j] - lo) * id + 0.5).rounded(.down)))))
                        let c = UInt8(min(15, max(0, Int(((vals[j + 16] - lo) * id + 0.5).rounded(.down)))))
                        blk.storeBytes(of: a | (c << 4), toByteOffset: 4 + j, as: UInt8.self)
                    }
                }
            }
        }
        return out
    }
}
