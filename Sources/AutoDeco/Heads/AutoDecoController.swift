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

    /// Threads for the heads' first layers (their weights are read from memory every token) and
    /// the statistics' passes over the vocabulary; nil runs them on the caller's thread.
    public let pool: ThreadPool?
    /// Both heads' first-layer preactivations: [2, 256].
    private let pre = UnsafeMutablePointer<Float>.allocate(capacity: 2 * HeadMLP.width)
    /// What the heads' inference reads, held here: a decision follows these plain pointers
    /// rather than copying `heads` (a retain of every array in it, each a cold line).
    private let temperatureHead: HeadInference, topPHead: HeadInference
    /// The barrier between regions 1 and 2 when they run as one (`RowsThenExponentialsRegion`):
    /// a counter that only grows, on a line of its own, and how many arrivals it has seen.
    private let barrier = UnsafeMutablePointer<Int>.allocate(capacity: 16)
    private var barrierArrivals = 0

    public init(heads: AutoDecoHeads, useTemperatureHead: Bool = true, useTopPHead: Bool = true, pool: ThreadPool? = nil) {
        self.heads = heads
        self.pool = pool
        self.useTemperatureHead = useTemperatureHead && heads.temperatureHeadEnabled
        self.useTopPHead = useTopPHead && heads.topPHeadEnabled
        temperatureHead = heads.temperatureHead.inference
        topPHead = heads.topPHead.inference
        barrier.initialize(repeating: 0, count: 16)
    }

    deinit { scratch.deallocate(); pre.deallocate(); barrier.deallocate() }

    public func decide(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision {
        decide(hidden: hidden, logits: logits, maxLogit: nil, inline: false, weightsInPlace: false)
    }

    /// `decide` with the pool's parts run one after another on the calling thread.
    public func decideOnThisThread(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision {
        decide(hidden: hidden, logits: logits, maxLogit: nil, inline: true, weightsInPlace: false)
    }

    /// The same decision, the sampler's weights written over the logits (their lines are in the
    /// caches from the exponentials' pass; the scratch buffer's would first be read from memory:
    /// 3 µs). With `maxLogit` (the LM head's kernel took it) the exponentials' pass also finds
    /// the top five, instead of a pass of its own over the logits (4-5 µs per thread): the same
    /// decision to the bit. Another value near the maximum shifts the weights, and the decision
    /// only by float rounding (while the exponentials stay finite).
    public func decide(hidden: UnsafeBufferPointer<Float>, consuming logits: UnsafeMutableBufferPointer<Float>,
                       maxLogit: Float?, onThisThread: Bool) -> DecodingDecision {
        decide(hidden: hidden, logits: UnsafeBufferPointer(logits), maxLogit: maxLogit, inline: onThisThread, weightsInPlace: true)
    }

    private func decide(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>, maxLogit: Float?, inline: Bool,
                        weightsInPlace: Bool) -> DecodingDecision {
        guard let h = hidden.baseAddress, hidden.count == heads.hiddenSize else { return .neutral }
        let H = hidden.count, width = HeadMLP.width
        let useT = useTemperatureHead, useP = useTopPHead
        guard useT || useP else { return .neutral }
        let tHead = temperatureHead, pHead = topPHead, pre = pre, n = logits.count
        let parts = pool?.threadCount ?? 1
        let withFeatures = useP && n > 1
        if withFeatures && !weightsInPlace && capacity < n {
            scratch.deallocate()
            scratch = .allocate(capacity: n); capacity = n
        }
        let out = weightsInPlace ? UnsafeMutablePointer(mutating: logits.baseAddress!) : scratch
        func run<W: ParallelWork>(_ work: W) { if let pool { pool.run(inline: inline, work) } else { work.run(part: 0) } }
        // Three parallel regions (DecisionRegions.swift). Without the top-p head (or without a
        // vocabulary) region 1 computes every row there is and the others do not run.
        let tOnly = useT && withFeatures
        let firstRows = tOnly ? 0..<width : (useT ? 0 : width)..<(useP ? 2 * width : width)
        let rows = DecisionRows(temperatureHead: tHead, topPHead: pHead, hidden: h, hiddenSize: H, pre: pre, parts: parts)
        // [parts] the temperature head's second-layer parts, then the passes' sums.
        let scalars = parts + LogitFeatures.Passes.sumsCount(parts: parts)
        let (t, features): (Float, LogitFeatures?) = withUnsafeTemporaryAllocation(of: Float.self, capacity: scalars) { buffer in
            withUnsafeTemporaryAllocation(of: Top5.self, capacity: parts) { tops in
                let secondParts = buffer.baseAddress!
                let passes = LogitFeatures.Passes(logits: logits.baseAddress!, count: n, scratch: out, parts: parts, sums: secondParts + parts)
                // The top five come from region 1's scan, or with the exponentials from a known maximum.
                let scanFirst = maxLogit == nil
                let first = FirstLayersRegion(heads: rows, rows: firstRows, prefetchTopPFinish: useP, secondParts: secondParts,
                                              tops: withFeatures && scanFirst ? tops.baseAddress! : nil, passes: passes)
                // Regions 1 and 2 as one, with a barrier between them, where their parts run on
                // threads of their own (inline, part 0 would wait for part 1 forever).
                if let m = maxLogit, let pool, !inline, parts > 1, tOnly {
                    barrierArrivals += parts
                    var t: Float = 0
                    withUnsafeMutablePointer(to: &t) { tp in
                        pool.run(RowsThenExponentialsRegion(first: first, maxLogit: m, tops: tops.baseAddress!,
                                                            barrier: barrier, arrivals: barrierArrivals, temperature: tp))
                    }
                    let top = Top5.merged(tops)
                    run(MomentsRegion(heads: rows, passes: passes, topPRows: tOnly))
                    return (t, passes.features(top: top, temperature: t, shift: m))
                }
                run(first)
                let t = useT ? rows.temperature(secondParts: secondParts) : 1
                guard withFeatures else { return (t, nil) }
                let top: Top5, shift: Float
                if let m = maxLogit {
                    run(ExponentialsRegion(passes: passes, maxLogit: m, temperature: t, tops: tops.baseAddress!))
                    top = Top5.merged(tops); shift = m
                } else {
                    top = Top5.merged(tops); shift = top.v0
                    run(ExponentialsRegion(passes: passes, maxLogit: shift, temperature: t, tops: nil))
                }
                run(MomentsRegion(heads: rows, passes: passes, topPRows: tOnly))
                return (t, passes.features(top: top, temperature: t, shift: shift))
            }
        }
        guard useP else { return DecodingDecision(temperature: t, topP: 1) }
        let f = features ?? .zero
        // The features' exp((l - max) / (T + 1e-8)) are the sampler's weights at T (to 1e-8).
        let weights = ScaledWeights(temperature: t, maxLogit: f.maxLogit, sum: f.partition, weights: out, count: n)
        let p = withUnsafeTemporaryAllocation(of: Float.self, capacity: 5) { extra in
            extra[0] = t; extra[1] = f.maxProb; extra[2] = f.entropy; extra[3] = f.probVariance; extra[4] = f.top5Sum
            return pHead.finish(pre + width, extra: UnsafeBufferPointer(extra))
        }
        return DecodingDecision(temperature: t, topP: p, weights: weights)
    }
}
