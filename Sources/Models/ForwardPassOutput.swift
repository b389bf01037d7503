/// The result of one batched forward pass, kept in two arrays that all its sequences share: the
/// LM head writes every sequence's logits into one array, and no sequence's rows are copied out.
/// (Sixteen separate 196 KB logit arrays a step were, on glibc, fresh pages to fault in every
/// step: about 10% of a 16-sequence decode step.)
public struct ForwardPassOutput: Sendable {
    /// Final hidden states of every row of the pass, in batch order: [T, hidden].
    public let hidden: [Float]
    /// Logits of the rows that asked for them, in batch order: [rows, vocab].
    public private(set) var logits: [Float]
    /// The largest logit of each of those rows (NaN never counts; -inf for a row of NaN).
    public let logitMaxima: [Float]
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
                try body(UnsafeBufferPointer(rebasing: h[Self.rows(hiddenRows[i], width.hidden)]),
                         UnsafeBufferPointer(rebasing: l[Self.rows(logitRows[i], width.vocab)]))
            }
        }
    }

    /// `withRows` for all sequences at once, their logits writable (the sampler's weights may
    /// replace them): `body` gets each sequence's rows by its index. The sequences' rows are
    /// disjoint, so they may be used from several threads at once, each sequence by one; valid
    /// inside `body` only.
    public mutating func withWritableRows<R>(
        _ body: (_ rows: @escaping (Int) -> (hidden: UnsafeBufferPointer<Float>, logits: UnsafeMutableBufferPointer<Float>)) throws -> R
    ) rethrows -> R {
        let hiddenRows = hiddenRows, logitRows = logitRows, width = width
        return try hidden.withUnsafeBufferPointer { h in
            try logits.withUnsafeMutableBufferPointer { l in
                let logitBase = l
                return try body { i in
                    (UnsafeBufferPointer(rebasing: h[Self.rows(hiddenRows[i], width.hidden)]),
                     UnsafeMutableBufferPointer(rebasing: logitBase[Self.rows(logitRows[i], width.vocab)]))
                }
            }
        }
    }

    /// The largest logit of sequence `i`'s last logit row, if it has one.
    public func lastMaxLogit(of i: Int) -> Float? { logitRows[i].isEmpty ? nil : logitMaxima[logitRows[i].upperBound - 1] }

    /// Sequence `i`'s part as arrays of its own (the arrays themselves when it is the only sequence).
    public func output(_ i: Int) -> ForwardOutput {
        ForwardOutput(hidden: part(hidden, hiddenRows[i], width.hidden), logits: part(logits, logitRows[i], width.vocab),
                      logitMaxima: part(logitMaxima, logitRows[i], 1), tokenCount: tokenCount(i))
    }

    private static func rows(_ r: Range<Int>, _ width: Int) -> Range<Int> { (r.lowerBound * width)..<(r.upperBound * width) }

    private func part(_ all: [Float], _ r: Range<Int>, _ width: Int) -> [Float] {
        let span = Self.rows(r, width)
        return span.count == all.count ? all : Array(all[span])
    }
}
