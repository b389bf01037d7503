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
    private var pre = [Float](repeating: 0, count: 2 * HeadMLP.width)

    public init(heads: AutoDecoHeads, useTemperatureHead: Bool = true, useTopPHead: Bool = true, pool: ThreadPool? = nil) {
        self.heads = heads
        self.pool = pool
        self.useTemperatureHead = useTemperatureHead && heads.temperatureHeadEnabled
        self.useTopPHead = useTopPHead && heads.topPHeadEnabled
    }

    deinit { scratch.deallocate() }

    public func decide(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision {
        decide(hidden: hidden, logits: logits, inline: false, weightsInPlace: false)
    }

    /// `decide` with the pool's parts run one after another on the calling thread.
    public func decideOnThisThread(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>) -> DecodingDecision {
        decide(hidden: hidden, logits: logits, inline: true, weightsInPlace: false)
    }

    /// The same decision, the sampler's weights written over the logits (their lines are in the
    /// caches from the top-5 scan; the scratch buffer's would first be read from memory: 3 µs).
    public func decide(hidden: UnsafeBufferPointer<Float>, consuming logits: UnsafeMutableBufferPointer<Float>, onThisThread: Bool) -> DecodingDecision {
        decide(hidden: hidden, logits: UnsafeBufferPointer(logits), inline: onThisThread, weightsInPlace: true)
    }

    private func decide(hidden: UnsafeBufferPointer<Float>, logits: UnsafeBufferPointer<Float>, inline: Bool,
                        weightsInPlace: Bool) -> DecodingDecision {
        guard let h = hidden.baseAddress, hidden.count == heads.hiddenSize else { return .neutral }
        let H = heads.hiddenSize, width = HeadMLP.width
        let useT = useTemperatureHead, useP = useTopPHead
        guard useT || useP else { return .neutral }
        let heads = self.heads, n = logits.count
        let parts = pool?.threadCount ?? 1
        // One parallel region for what needs neither T nor the other threads: the heads' first
        // layers (rows 0..<256 the temperature head, 256..<512 the top-p head's hidden-state
        // columns; split between the threads, memory-bound) and each thread's top five logits of
        // its slice of the vocabulary (the max the exponentials need). The thread whose rows are
        // the whole temperature head also finishes it there (the same arithmetic as after), and
        // the caller's thread first asks for what both heads' finishes read (7 KB per head, cold
        // after the forward pass: ~1 µs each when read on the critical path).
        let rows = (useT ? 0 : width)..<(useP ? 2 * width : width)
        var top = Top5()
        var finishedT: Float?
        withUnsafeTemporaryAllocation(of: Top5.self, capacity: parts) { tops in
            pre.withUnsafeMutableBufferPointer { buf in
                let out = buf.baseAddress!
                let work = { (k: Int) in
                    if k == 0 {
                        if useT { heads.temperatureHead.prefetchFinish() }
                        if useP { heads.topPHead.prefetchFinish() }
                    }
                    let part = ThreadPool.part(k, of: parts, count: rows.count)
                    let mine = (rows.lowerBound + part.lowerBound)..<(rows.lowerBound + part.upperBound)
                    let tRows = mine.clamped(to: 0..<width), pRows = mine.clamped(to: width..<(2 * width))
                    if !tRows.isEmpty { heads.temperatureHead.preactivations(h, count: H, into: out, rows: tRows) }
                    if !pRows.isEmpty {
                        heads.topPHead.preactivations(h, count: H, into: out + width, rows: (pRows.lowerBound - width)..<(pRows.upperBound - width))
                    }
                    let slice = LogitFeatures.slice(n, part: k, of: parts)
                    tops.initializeElement(at: k, to: useP && n > 1 ? VectorOps.top5(logits.baseAddress! + slice.lowerBound, n: slice.count) : Top5())
                    if tRows.count == width { finishedT = 2 * heads.temperatureHead.finish(out, count: H, extra: []) }
                }
                if let pool { pool.run(inline: inline, work) } else { work(0) }
            }
            for k in 0..<parts { top.merge(tops[k]) }
        }
        let t = !useT ? 1 : finishedT ?? 2 * pre.withUnsafeBufferPointer { heads.temperatureHead.finish($0.baseAddress!, count: H, extra: []) }
        guard useP else { return DecodingDecision(temperature: t, topP: 1) }
        if !weightsInPlace && capacity < n {
            scratch.deallocate()
            scratch = .allocate(capacity: n); capacity = n
        }
        let out = weightsInPlace ? UnsafeMutablePointer(mutating: logits.baseAddress!) : scratch
        let f = LogitFeatures(logits: logits, temperature: t, scratch: out, pool: pool, top: top, inline: inline)
        // The features' exp((l - max) / (T + 1e-8)) are the sampler's weights at T (to 1e-8).
        let weights = ScaledWeights(temperature: t, maxLogit: f.maxLogit, sum: f.partition, weights: out, count: n)
        let p = pre.withUnsafeBufferPointer {
            heads.topPHead.finish($0.baseAddress! + width, count: H, extra: [t, f.maxProb, f.entropy, f.probVariance, f.top5Sum])
        }
        return DecodingDecision(temperature: t, topP: p, weights: weights)
    }
}
