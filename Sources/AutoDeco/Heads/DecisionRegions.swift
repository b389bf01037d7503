import CKernels
import Kernels

/// The three parallel regions of an AutoDeco decision (`AutoDecoController`), as values of plain
/// data for `ThreadPool.run(_:)`: each thread takes its part of the heads' rows and its slice of
/// the vocabulary. The heads are plain views (the controller keeps their memory): a worker that
/// retained an object the caller also holds would write to a cache line of the other core.
struct DecisionRows {
    let temperatureHead: HeadInference, topPHead: HeadInference
    let hidden: UnsafePointer<Float>, hiddenSize: Int
    /// Both heads' first-layer preactivations: [2, 256].
    let pre: UnsafeMutablePointer<Float>
    let parts: Int

    /// Part k of these rows of the two first layers (0..<256 the temperature head's, 256..<512
    /// the top-p head's), as rows of each head.
    func part(_ k: Int, of rows: Range<Int>) -> (t: Range<Int>, p: Range<Int>) {
        let width = HeadMLP.width, part = ThreadPool.part(k, of: parts, count: rows.count)
        let mine = (rows.lowerBound + part.lowerBound)..<(rows.lowerBound + part.upperBound)
        let p = mine.clamped(to: width..<(2 * width))
        return (mine.clamped(to: 0..<width), (p.lowerBound - width)..<(p.upperBound - width))
    }

    /// Part k of `rows`; returns its part of the temperature head's second layer.
    func compute(_ k: Int, of rows: Range<Int>) -> Float {
        let (tRows, pRows) = part(k, of: rows)
        temperatureHead.prefetchSecondLayer(rows: tRows)
        if !tRows.isEmpty { temperatureHead.preactivations(hidden, count: hiddenSize, into: pre, rows: tRows) }
        if !pRows.isEmpty { topPHead.preactivations(hidden, count: hiddenSize, into: pre + HeadMLP.width, rows: pRows) }
        return temperatureHead.secondLayerPart(pre, rows: tRows)
    }

    /// T = 2 sigmoid(b2 + the parts' second-layer sums, added in the parts' order): the caller
    /// and every thread of a joined region compute it so, and get the same T to the bit.
    func temperature(secondParts: UnsafePointer<Float>) -> Float {
        var sum: Float = 0
        for k in 0..<parts { sum += secondParts[k] }
        return 2 * temperatureHead.output(sum)
    }
}

/// Region 1: the first layers' `rows` (the temperature head's alone when the features follow),
/// each thread's part of the temperature head's second layer (from the rows it just computed;
/// the caller adds the parts) and, with the features, each slice's top five logits (the max the
/// exponentials need). Part 0 first asks for what the top-p head's finish reads (7 KB, cold
/// after the forward pass: ~1 µs when read on the critical path).
struct FirstLayersRegion: ParallelWork {
    let heads: DecisionRows
    let rows: Range<Int>
    let prefetchTopPFinish: Bool
    /// [parts] the temperature head's second-layer parts.
    let secondParts: UnsafeMutablePointer<Float>
    /// [parts] each slice's top five, when the features follow.
    let tops: UnsafeMutablePointer<Top5>?
    let passes: LogitFeatures.Passes

    func run(part k: Int) {
        if k == 0 && prefetchTopPFinish { heads.topPHead.prefetchFinish() }
        secondParts[k] = heads.compute(k, of: rows)
        if let tops { (tops + k).initialize(to: passes.top5(part: k)) }
    }
}

/// Region 2: the exponentials; with `tops` (the largest logit came from the LM head, so region 1
/// did not scan for them), also each slice's top five.
struct ExponentialsRegion: ParallelWork {
    let passes: LogitFeatures.Passes
    let maxLogit: Float, temperature: Float
    let tops: UnsafeMutablePointer<Top5>?

    func run(part k: Int) {
        if let tops {
            (tops + k).initialize(to: passes.exponentialsAndTop5(part: k, maxLogit: maxLogit, temperature: temperature))
        } else {
            passes.exponentials(part: k, maxLogit: maxLogit, temperature: temperature)
        }
    }
}

/// Region 3: the moments, each thread asking meanwhile for its part of the top-p head's rows (the
/// pass is bound by its logarithms, so memory delivers them for free; asked for during the
/// exponentials, the first pass over the logits, they cost 1.4 µs more per decision), then those rows
/// (the hidden-state columns) from the caches.
struct MomentsRegion: ParallelWork {
    let heads: DecisionRows
    let passes: LogitFeatures.Passes
    let topPRows: Bool

    func run(part k: Int) {
        let width = HeadMLP.width
        let rows = heads.part(k, of: width..<(2 * width)).p
        passes.moments(part: k, prefetching: topPRows ? heads.topPHead.inferenceBytes(rows: rows) : nil)
        if topPRows { _ = heads.compute(k, of: width..<(2 * width)) }
    }
}

/// Regions 1 and 2 as one, for a decision that knows the largest logit and runs on the pool's
/// threads: each thread computes its temperature rows, meets the others at a barrier, computes
/// T from all their second-layer parts (in the parts' order, as the caller would: the same T to
/// the bit), and goes on to its exponentials and top five, saving the caller's join, T and
/// second dispatch between them (`ab-bench` q8_0, 6 rounds: 17.9 -> 17.3 µs a decision; region 3
/// joined to them by a second barrier gained nothing more: 17.0 against 17.2).
struct RowsThenExponentialsRegion: ParallelWork {
    let first: FirstLayersRegion
    let maxLogit: Float
    let tops: UnsafeMutablePointer<Top5>
    let barrier: UnsafeMutablePointer<Int>, arrivals: Int
    /// Where part 0 leaves T for the caller.
    let temperature: UnsafeMutablePointer<Float>

    func run(part k: Int) {
        first.run(part: k)
        ad_barrier_arrive_and_wait(barrier, arrivals)
        let t = first.heads.temperature(secondParts: first.secondParts)
        if k == 0 { temperature.pointee = t }
        (tops + k).initialize(to: first.passes.exponentialsAndTop5(part: k, maxLogit: maxLogit, temperature: t))
    }
}
