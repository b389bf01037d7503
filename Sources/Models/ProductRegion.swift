import Kernels

/// out_i = input W_i^T for each (W_i, out_i) of a `LlamaModel` product, as the value that
/// `ThreadPool.run(_:)` gives each thread: thread k takes part k of the matrices' concatenated
/// rows (or, `paired`, the same rows of every matrix). Plain data only (a `WeightMatrix` holds no
/// references), so the threads never write a shared reference count.
struct ProductRegion: ParallelWork {
    let matrices: ProductList
    let totalRows: Int, unit: Int, threads: Int
    let quantized: QuantizedActivations?
    let input: UnsafePointer<Float>, blockSums: UnsafeMutablePointer<Float>, tokens: Int
    /// Per thread: its panel for the float path's tiles.
    let panels: UnsafePointer<UnsafeMutablePointer<Float>>
    /// The gate and up products: each thread applies SwiGLU to the columns it just computed.
    let paired: SwiGLUColumns?
    /// [threads, tokens], for one matrix (the LM head): each thread's largest output per token.
    let maxima: UnsafeMutablePointer<Float>?

    func product(_ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>, rows: Range<Int>, thread: Int) {
        let mine = maxima.map { $0 + thread * tokens }
        if let quantized {  // takes the maxima itself
            MatMul.matmul(w, quantized, tokens: tokens, out, ldy: w.rows, rows: rows, maxima: mine)
            return
        }
        if tokens == 1 {
            MatMul.matvec(w, input, blockSums, out, rows: rows)
        } else {
            MatMul.matmul(w, input, tokens: tokens, out, ldy: w.rows, rows: rows, panel: panels[thread])
        }
        if let mine { MatMul.updateMaxima(mine, out, ldy: w.rows, rows: rows, tokens: tokens) }
    }

    func run(part thread: Int) {
        if let maxima {
            precondition(matrices.count == 1, "maxima of one matrix's outputs")
            (maxima + thread * tokens).initialize(repeating: -.infinity, count: tokens)
        }
        if let paired {
            let mine = ThreadPool.part(thread, of: threads, count: matrices[0].0.rows, unit: unit)
            guard !mine.isEmpty else { return }
            for (w, out) in matrices { product(w, out, rows: mine, thread: thread) }
            paired.apply(columns: mine)
            return
        }
        let mine = ThreadPool.part(thread, of: threads, count: totalRows, unit: unit), lo = mine.lowerBound, hi = mine.upperBound
        var base = 0
        for (w, out) in matrices {
            let a = max(lo, base) - base, b = min(hi, base + w.rows) - base
            if a < b { product(w, out, rows: a..<b, thread: thread) }
            base += w.rows
        }
    }
}

/// A batch's input rows split over the threads: each thread runs the row steps (residual add and
/// norm) of its rows and rounds them to the products' integer activations.
struct QuantizeRegion: ParallelWork {
    let quantized: QuantizedActivations
    let input: UnsafePointer<Float>
    let rowSteps: RowSteps?
    let tokens: Int, threads: Int

    func run(part thread: Int) {
        let rows = ThreadPool.part(thread, of: threads, count: tokens)
        guard !rows.isEmpty else { return }
        rowSteps?.apply(rows: rows)
        quantized.quantize(input, tokens: rows)
    }
}

/// One to three (matrix, output) pairs that share an input, held inline: an array literal per
/// product was a heap allocation per product (five a layer).
struct ProductList: RandomAccessCollection {
    typealias Element = (WeightMatrix, UnsafeMutablePointer<Float>)
    private let first: Element, second: Element?, third: Element?
    let count: Int

    init(_ a: Element) { first = a; second = nil; third = nil; count = 1 }
    init(_ a: Element, _ b: Element) { first = a; second = b; third = nil; count = 2 }
    init(_ a: Element, _ b: Element, _ c: Element) { first = a; second = b; third = c; count = 3 }

    var startIndex: Int { 0 }
    var endIndex: Int { count }
    subscript(i: Int) -> Element {
        switch i {
        case 0: return first
        case 1: return second!
        default: return third!
        }
    }
}

/// Each row's residual add (when `residual` is given) and RMSNorm of x [T, width] into `out`:
/// what a product runs first on the rows of its input.
struct RowSteps {
    let x: UnsafeMutablePointer<Float>, residual: UnsafePointer<Float>?, norm: UnsafePointer<Float>
    let out: UnsafeMutablePointer<Float>
    let width: Int, eps: Float

    func apply(rows: Range<Int>) {
        for t in rows {
            if let residual { VectorOps.add(x + t * width, residual + t * width, n: width) }
            VectorOps.rmsNorm(x + t * width, norm, out + t * width, n: width, eps: eps)
        }
    }
}

/// g = silu(g) * u on some columns of every token's gate and up rows [tokens, width].
struct SwiGLUColumns {
    let gate: UnsafeMutablePointer<Float>, up: UnsafeMutablePointer<Float>
    let width: Int, tokens: Int

    func apply(columns: Range<Int>) {
        for t in 0..<tokens {
            VectorOps.swiglu(gate + t * width + columns.lowerBound, up + t * width + columns.lowerBound, n: columns.count)
        }
    }
}
