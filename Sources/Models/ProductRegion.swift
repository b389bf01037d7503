import Kernels

/// out_i = input W_i^T for each (W_i, out_i) of a `LlamaModel` product, as the value that
/// `ThreadPool.run(_:)` gives each thread: thread k takes part k of the matrices' concatenated
/// rows (or, `paired`, the same rows of every matrix). Plain data only (a `WeightMatrix` holds no
/// references), so the threads never write a shared reference count.
struct ProductRegion: ParallelWork {
    let matrices: UnsafeBufferPointer<(WeightMatrix, UnsafeMutablePointer<Float>)>
    let totalRows: Int, unit: Int, threads: Int
    let quantized: QuantizedActivations?
    let input: UnsafePointer<Float>, blockSums: UnsafeMutablePointer<Float>, tokens: Int
    /// Per thread: its panel for the float path's tiles.
    let panels: UnsafePointer<UnsafeMutablePointer<Float>>
    /// The gate and up products: each thread applies SwiGLU to the columns it just computed.
    let paired: SwiGLUColumns?

    func product(_ w: WeightMatrix, _ out: UnsafeMutablePointer<Float>, rows: Range<Int>, thread: Int) {
        if let quantized {
            MatMul.matmul(w, quantized, tokens: tokens, out, ldy: w.rows, rows: rows)
        } else if tokens == 1 {
            MatMul.matvec(w, input, blockSums, out, rows: rows)
        } else {
            MatMul.matmul(w, input, tokens: tokens, out, ldy: w.rows, rows: rows, panel: panels[thread])
        }
    }

    func run(part thread: Int) {
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
