import Kernels

/// Scratch buffers of a forward pass, grown on demand and reused; one per concurrent caller.
public final class Workspace: @unchecked Sendable {
    let config: ModelConfig
    let x = FloatBuffer(), xn = FloatBuffer(), tmp = FloatBuffer()  // [T, hidden]
    let q = FloatBuffer(), attn = FloatBuffer()                     // [T, qDim]
    let k = FloatBuffer(), v = FloatBuffer()                        // [T, kvDim]
    let gate = FloatBuffer(), up = FloatBuffer()                    // [T, ffn]
    let blockSums = FloatBuffer()                                   // [max(hidden, ffn, qDim) / 32]
    let ropeTable = FloatBuffer()                                   // [T, headDim]
    let panels: [FloatBuffer]                                       // per thread [4, max cols]
    let scores: [FloatBuffer]                                       // per thread: Attention.scratchCount
    let attentionParts = FloatBuffer()                              // [T, chunks, heads, headDim + 2] (few rows at depth)
    let qValues = ScratchBuffer<Int16>()                            // [T, max cols] integer activations
    let qScales = FloatBuffer(), qSums = FloatBuffer()              // [T, max cols / 32]
    let qBytes = ScratchBuffer<Int8>()                              // [T, max cols] 8-bit activations
    let qOutliers = ScratchBuffer<Int8>(), qIntegerSums = ScratchBuffer<Int32>() // [T, max cols / 32]
    /// Whether the model rounds activations to 8 bits (only then are the three buffers above grown).
    let eightBitActivations: Bool
    /// When set, forward passes through this workspace add their per-step wall time to it.
    public var profile: ForwardProfile?

    init(config: ModelConfig, threads: Int, eightBitActivations: Bool) {
        self.config = config
        self.eightBitActivations = eightBitActivations
        let maxCols = max(config.hidden, config.ffn, config.qDim)
        panels = (0..<threads).map { _ in FloatBuffer(4 * maxCols) }
        scores = (0..<threads).map { _ in FloatBuffer(256) }
        blockSums.reserve(maxCols / 32 + 1)
    }

    func prepare(tokens T: Int, context: Int) {
        let c = config
        for b in [x, xn, tmp] { b.reserve(T * c.hidden) }
        for b in [q, attn] { b.reserve(T * c.qDim) }
        for b in [k, v] { b.reserve(T * c.kvDim) }
        for b in [gate, up] { b.reserve(T * c.ffn) }
        ropeTable.reserve(T * c.headDim)
        for s in scores { s.reserve(Attention.scratchCount(heads: c.heads / c.kvHeads, headDim: c.headDim)) }
        let maxCols = max(c.hidden, c.ffn, c.qDim)
        qValues.reserve(T * maxCols)
        for b in [qScales, qSums] { b.reserve(T * maxCols / 32) }
        if eightBitActivations {
            qBytes.reserve(T * maxCols)
            qOutliers.reserve(T * maxCols / 32)
            qIntegerSums.reserve(T * maxCols / 32)
        }
    }
}
