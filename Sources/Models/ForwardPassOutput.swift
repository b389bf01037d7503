/// The result of one batched forward pass, kept in two arrays that all its sequences share: the
/// LM head writes every sequence's logits into one array, and no sequence's rows are copied out.
/// (Sixteen separate 196 KB logit arrays a step were, on glibc, fresh pages to fault in every
/// step: about 10% of a 16-sequence decode step.)
public struct ForwardPassOutput: Sendable {
    /// Final hidden states of every row of the pass, in batch order: [T, hidden].
    public let hidden: [Float]
    /// Logits of the rows that asked for them, in batch order: [rows, vocab].
    public let logits: [Float]
    /// Per sequence, its rows in `hidden` and in `logits`.
    let hiddenRows: [Range<Int>]
    let logitRows: [Range<Int>]
    let width: (hidden: Int, vocab: Int)

    /// Sequences in the pass.
    public var count: Int { hiddenRows.count }

    /// Tokens sequence `i` sent through the pass.
    public func tokenCount(_ i: Int) -> Int { hiddenRows[i].count }

    /// Sequence `i`'s hidden states [tokens, hidden] and logits [0, 1 or tokens, vocab], valid
    /// inside `body` only.
    public func withRows<R>(of i: Int, _ body: (_ hidden: UnsafeBufferPointer<Float>, _ logits: UnsafeBufferPointer<Float>) throws -> R) rethrows -> R {
        try hidden.withUnsafeBufferPointer { h in
            try logits.withUnsafeBufferPointer { l in
                try body(UnsafeBufferPointer(rebasing: h[rows(hiddenRows[i], width.hidden)]),
                         UnsafeBufferPointer(rebasing: l[rows(logitRows[i], width.vocab)]))
            }
        }
    }

    /// Sequence `i`'s part as arrays of its own (the arrays themselves when it is the only sequence).
    public func output(_ i: Int) -> ForwardOutput {
        ForwardOutput(hidden: part(hidden, hiddenRows[i], width.hidden), logits: part(logits, logitRows[i], width.vocab),
                      tokenCount: tokenCount(i))
    }

    private func rows(_ r: Range<Int>, _ width: Int) -> Range<Int> { (r.lowerBound * width)..<(r.upperBound * width) }

    private func part(_ all: [Float], _ r: Range<Int>, _ width: Int) -> [Float] {
        let span = rows(r, width)
        return span.count == all.count ? all : Array(all[span])
    }
}
