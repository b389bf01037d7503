import Decoding
import Kernels

/// The AutoDeco decoding controller: the heads predict each token's temperature and top-p
/// from the final hidden state and the raw logits. Either head can be switched off for
/// ablations; it then predicts 1, which the combination rule turns into the user's value.
///
/// ```swift
/// let generator = Generator(model: lm, controller: AutoDecoController(heads: heads))
/// ```
public final class AutoDecoController: DecodingController {
    public let heads: AutoDecoHeads
    public var useTemperatureHead: Bool
    public var useTopPHead: Bool
    /// exp of the scaled logits, reused across tokens (and lent to the sampler): [vocab].
    private var scratch = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    private var capacity = 0

    /// Threads for the heads' first layers (their weights are read from memory every token);
    /// nil runs them on the caller's thread.
    public let pool: ThreadPool?
    /// Both heads' first-layer preactivations: [2, 256].
    private var pre = [Float](repeating: 0, count: 2 * HeadMLP.width)

    public init(heads: AutoDecoHeads, useTemperatureHead: Bool = true, useTopPHead: Bool = true, pool: ThreadPool? = nil) {
        self.heads = heads
        self.pool = pool
        self.useTemperatureHead = useTemperatureHead && heads.temperatureHeadEnabled
        self.useTopPHead = useTopPHead && heads.topPHeadEnabled
    }

    deinit { scratch.deallocate() }

    public func decide(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision {
        guard let h = hidden.baseAddress, hidden.count == heads.hiddenSize else { return .neutral }
        let H = heads.hiddenSize, width = HeadMLP.width
        let useT = useTemperatureHead, useP = useTopPHead
        guard useT || useP else { return .neutral }
        // Rows 0..<256: temperature head; 256..<512: the top-p head's hidden-state columns.
        let heads = self.heads
        pre.withUnsafeMutableBufferPointer { buf in
            let out = buf.baseAddress!
            let work = { (range: Range<Int>) in
                let tRows = max(range.lowerBound, 0)..<min(range.upperBound, width)
                let pRows = max(range.lowerBound, width)..<min(range.upperBound, 2 * width)
                if useT && !tRows.isEmpty { heads.temperatureHead.preactivations(h, count: H, into: out, rows: tRows) }
                if useP && !pRows.isEmpty {
                    heads.topPHead.preactivations(h, count: H, into: out + width, rows: (pRows.lowerBound - width)..<(pRows.upperBound - width))
                }
            }
            if let pool { pool.parallelFor(2 * width, work) } else { work(0..<(2 * width)) }
        }
        let t = useT ? 2 * pre.withUnsafeBufferPointer { heads.temperatureHead.finish($0.baseAddress!, count: H, extra: []) } : 1
        guard useP else { return DecodingDecision(temperature: t, topP: 1) }
        if capacity < logits.count {
            scratch.deallocate()
            scratch = .allocate(capacity: logits.count); capacity = logits.count
        }
        let features = LogitFeatures(logits: logits, temperature: t, scratch: scratch, pool: pool)
        // The features' exp((l - max) / (T + 1e-8)) are the sampler's weights at T (to 1e-8).
        let weights = ScaledWeights(temperature: t, maxLogit: features.maxLogit, sum: features.partition,
                                    weights: scratch, count: logits.count, rawLogSumExp: features.rawLogSumExp)
        let f = features
        let p = pre.withUnsafeBufferPointer {
            heads.topPHead.finish($0.baseAddress! + width, count: H, extra: [t, f.maxProb, f.entropy, f.probVariance, f.top5Sum])
        }
        return DecodingDecision(temperature: t, topP: p, weights: weights)
    }
}
