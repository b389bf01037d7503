import Foundation
import Kernels
import ModelFiles

/// Which positions of a forward pass need logits.
public enum LogitsRequest: Sendable {
    case none, last, all
}

/// The result of a forward pass over T tokens.
public struct ForwardOutput: Sendable {
    /// Final hidden states (after the final RMSNorm: the LM head's input), [T, hidden].
    public var hidden: [Float]
    /// Logits for the requested positions, [P, vocab] (P = 0, 1 or T).
    public var logits: [Float]
    /// The largest logit of each of those P rows, which the LM head takes as it writes them.
    public var logitMaxima: [Float]
    public var tokenCount: Int
}

/// How the matrix products treat their input.
public enum ActivationPrecision: String, Sendable, CaseIterable {
    /// Inputs rounded to 8-bit integers per 32-value block, each block's outlier kept at 16 bits,
    /// wherever the weights are Q4_1 or Q8_0: on AVX-512 VNNI twice the multiply-adds per
    /// instruction of int16, which is what bounds batches and prompts. KL to the exact forward
    /// pass ~0.004 mean (llama.cpp's 8-bit rounding: 0.002-0.005 by the reference's measure).
    case int8
    /// Inputs rounded to 16-bit integers per 32-value block wherever the weights are Q4_1 or
    /// Q8_0: integer dot products, ~3x fewer instructions per weight than dequantizing to float,
    /// and within ~1e-6 (KL) of the exact forward pass.
    case int16
    /// Float32 inputs against exactly dequantized weights: within ~1e-4 of an exact float64
    /// forward pass (the reference tests), slower.
    case float32

    /// Whether the matrix products round their inputs to integers.
    public var isInteger: Bool { self != .float32 }
}

/// One sequence's part of a batched forward pass.
public struct SequenceStep {
    public var tokens: [Int32]
    public var context: ModelContext
    public var logits: LogitsRequest
    public init(tokens: [Int32], context: ModelContext, logits: LogitsRequest) {
        self.tokens = tokens; self.context = context; self.logits = logits
    }
}

/// Per-sequence state: the KV cache and reusable scratch buffers.
public final class ModelContext: @unchecked Sendable {
    public let cache: KVCache
    let workspace: Workspace
    init(cache: KVCache, workspace: Workspace) { self.cache = cache; self.workspace = workspace }
    /// Per-step timing of this context's forward passes (see `ForwardProfile`); nil = off.
    public var profile: ForwardProfile? {
        get { workspace.profile }
        set { workspace.profile = newValue }
    }
}

/// A Llama-family decoder (Llama, Qwen2, Qwen3) running from GGUF weights on the CPU.
///
/// ```swift
/// let model = try LlamaModel(gguf: GGUFFile(path: path), threads: 2)
/// let ctx = model.makeContext(capacity: 512)
/// let out = try model.forward([1, 4093, 198], context: ctx, logits: .last)
/// ```
public final class LlamaModel: @unchecked Sendable {
    public let config: ModelConfig
    public let weights: LlamaWeights
    public let pool: ThreadPool
    public let precision: ActivationPrecision
    /// How new contexts' KV caches store K and V.
    public let kvCacheElement: KVCacheElement
    let file: GGUFFile
    let rope: Rope

    /// `kvCache` nil: float16 with the integer precisions (whose rounding of the inputs is
    /// coarser than float16's), float32 with `.float32`, the exact path.
    public init(gguf: GGUFFile, threads: Int = ThreadPool.defaultThreadCount, precision: ActivationPrecision = .int16,
                kvCache: KVCacheElement? = nil) throws {
        file = gguf
        self.precision = precision
        kvCacheElement = kvCache ?? (precision.isInteger ? .float16 : .float32)
        config = try ModelConfig(gguf: gguf)
        var weights = try LlamaWeights(gguf: gguf, config: config)
        pool = ThreadPool.shared(threads: threads)
        if precision.isInteger && IntegerKernelChoice.current.packsWeights {
            weights.packForIntegerKernels(layout: precision == .int8 ? .quads8 : .pairs16, pool: pool)
        }
        self.weights = weights
        rope = Rope(dims: config.headDim, base: config.ropeBase, style: config.ropeStyle)
    }

    /// A new sequence context holding up to `capacity` positions (capped at the model's context length).
    public func makeContext(capacity: Int) -> ModelContext {
        let cap = max(1, min(capacity, config.contextLength))
        return ModelContext(cache: KVCache(layers: config.layers, kvHeads: config.kvHeads, headDim: config.headDim, capacity: cap,
                                                    element: kvCacheElement),
                            workspace: Workspace(config: config, threads: pool.threadCount, eightBitActivations: precision == .int8))
    }

    /// Runs `tokens` at positions cache.length ..< cache.length + T as one batch and appends them to the cache.
    public func forward(_ tokens: [Int32], context: ModelContext, logits request: LogitsRequest) throws -> ForwardOutput {
        try forward(batch: [SequenceStep(tokens: tokens, context: context, logits: request)], workspace: context.workspace)[0]
    }

    /// A fresh set of scratch buffers for `forward(batch:workspace:)` (one per concurrent caller).
    public func makeWorkspace() -> Workspace { Workspace(config: config, threads: pool.threadCount, eightBitActivations: precision == .int8) }

    /// One forward pass over several sequences at once, each sequence's part copied into arrays
    /// of its own (see `forwardPass(batch:workspace:)` for the shared result without copies).
    public func forward(batch: [SequenceStep], workspace ws: Workspace) throws -> [ForwardOutput] {
        let pass = try forwardPass(batch: batch, workspace: ws)
        return (0..<pass.count).map(pass.output)
    }

    /// One forward pass over several sequences at once: every sequence's tokens go at its own
    /// cache positions, the matrix products run over all rows together (each weight byte read once
    /// for the whole batch), attention reads each sequence's own cache. The contexts must be distinct.
    public func forwardPass(batch: [SequenceStep], workspace ws: Workspace) throws -> ForwardPassOutput {
        let c = config
        var rowCache = [KVCache](), rowPos = [Int](), allTokens = [Int32]()
        for step in batch {
            guard !step.tokens.isEmpty else { throw ModelError.emptyInput }
            let cache = step.context.cache, start = cache.length
            guard start + step.tokens.count <= cache.capacity else {
                throw ModelError.contextFull(needed: start + step.tokens.count, capacity: cache.capacity)
            }
            for t in step.tokens where t < 0 || Int(t) >= c.vocab { throw ModelError.tokenOutOfRange(token: t, vocab: c.vocab) }
            for (i, t) in step.tokens.enumerated() { rowCache.append(cache); rowPos.append(start + i); allTokens.append(t) }
        }
        guard Set(batch.map { ObjectIdentifier($0.context) }).count == batch.count else { throw ModelError.duplicateContextInBatch }
        let T = allTokens.count
        guard T > 0 else { throw ModelError.emptyInput }

        ws.prepare(tokens: T, context: (rowPos.max() ?? 0) + 1)
        var clock = ProfileClock(ws.profile)
        let x = ws.x.pointer, xn = ws.xn.pointer  // [T, hidden]
        for (t, id) in allTokens.enumerated() { weights.tokenEmbedding.dequantizeRow(Int(id), into: x + t * c.hidden) }
        clock.lap(.embedding)
        // Each row's rotation table, once for all layers (cos and sin of headDim / 2 angles).
        for t in 0..<T { rope.table(position: rowPos[t], into: ws.ropeTable.pointer + t * c.headDim) }
        clock.lap(.qkPrepare)

        // In batches of 16 rows or more (integer activations), each row's residual add and norm
        // run inside the next product's parallel quantize step, each thread on its own rows,
        // instead of on the caller alone: the same operations per row, so the same bits (the
        // profile then counts them in that product). The FFN's residual is then added at the
        // start of the next layer.
        let rowsInProducts = rowStepsRunInProducts(tokens: T)
        let H = c.hidden, tmp = ws.tmp.pointer
        for (li, L) in weights.layers.enumerated() {
            // Attention block.
            let attentionRows = RowSteps(x: x, residual: rowsInProducts && li > 0 ? UnsafePointer(tmp) : nil, norm: L.attnNorm,
                                         out: xn, width: H, eps: c.normEps)
            if !rowsInProducts { attentionRows.apply(rows: 0..<T); clock.lap(.norms) }
            let q = ws.q.pointer, k = ws.k.pointer, v = ws.v.pointer  // [T, qDim], [T, kvDim] x2
            // The cache lines this layer's K/V rows go to, fetched under the product (for a
            // prompt its rows are contiguous and the hardware prefetcher follows them).
            if T <= 64 { for t in 0..<T { rowCache[t].prefetchRow(layer: li, position: rowPos[t]) } }
            linear(ProductList((L.wq, q), (L.wk, k), (L.wv, v)), input: xn, tokens: T, ws: ws, rowsFirst: rowsInProducts ? attentionRows : nil)
            clock.lap(.qkv)
            prepareQK(L, q: q, k: k, v: v, tokens: T, ws: ws)
            clock.lap(.qkPrepare)
            for t in 0..<T {  // append K and V to each row's cache
                rowCache[t].write(layer: li, position: rowPos[t], keys: k + t * c.kvDim, values: v + t * c.kvDim)
            }
            clock.lap(.cacheWrite)
            attention(layer: li, q: q, out: ws.attn.pointer, caches: rowCache, positions: rowPos, ws: ws)
            clock.lap(.attention)
            // Each norm's weights are cold by its turn (the matrices streamed since): fetched
            // during the product before it.
            VectorOps.prefetch(L.ffnNorm, bytes: 4 * H)
            linear(ProductList((L.wo, tmp)), input: ws.attn.pointer, tokens: T, ws: ws)
            clock.lap(.attentionOutput)

            // Feed-forward block (SwiGLU).
            let ffnRows = RowSteps(x: x, residual: UnsafePointer(tmp), norm: L.ffnNorm, out: xn, width: H, eps: c.normEps)
            if !rowsInProducts {
                VectorOps.add(x, tmp, n: T * H)
                clock.lap(.residual)
                for t in 0..<T { VectorOps.rmsNorm(x + t * H, L.ffnNorm, xn + t * H, n: H, eps: c.normEps) }
                clock.lap(.norms)
            }
            let g = ws.gate.pointer, u = ws.up.pointer  // [T, ffn]
            // Each thread computes the same gate and up rows, then g = silu(g) * u on those columns
            // of every token while they are in its cache (no region of its own, nothing read from
            // the other core); counted in the gate+up step.
            linear(ProductList((L.gate, g), (L.up, u)), input: xn, tokens: T, ws: ws, rowsFirst: rowsInProducts ? ffnRows : nil,
                   paired: SwiGLUColumns(gate: g, up: u, width: c.ffn, tokens: T))
            clock.lap(.gateUp)
            VectorOps.prefetch(li + 1 < weights.layers.count ? weights.layers[li + 1].attnNorm : weights.outputNorm, bytes: 4 * H)
            linear(ProductList((L.down, tmp)), input: g, tokens: T, ws: ws)
            clock.lap(.down)
            if !rowsInProducts {
                VectorOps.add(x, tmp, n: T * H)
                clock.lap(.residual)
            }
        }
        if rowsInProducts && !weights.layers.isEmpty {  // the last layer's FFN residual
            VectorOps.add(x, tmp, n: T * H)
            clock.lap(.residual)
        }
        for step in batch { step.context.cache.length += step.tokens.count }

        var hidden = [Float](repeating: 0, count: T * c.hidden)
        hidden.withUnsafeMutableBufferPointer { h in
            for t in 0..<T { VectorOps.rmsNorm(x + t * c.hidden, weights.outputNorm, h.baseAddress! + t * c.hidden, n: c.hidden, eps: c.normEps) }
        }
        // Each sequence's rows, and the rows of `hidden` that need logits (in batch order, so
        // one LM head product serves the whole batch).
        var hiddenRows = [Range<Int>](), logitRows = [Range<Int>](), wanted = [Int]()
        for step in batch {
            let first = hiddenRows.last?.upperBound ?? 0, end = first + step.tokens.count
            hiddenRows.append(first..<end)
            let rows: Range<Int> = switch step.logits {
            case .none: end..<end
            case .last: (end - 1)..<end
            case .all: first..<end
            }
            let start = logitRows.last?.upperBound ?? 0
            logitRows.append(start..<(start + rows.count))
            wanted += rows
        }
        let logits: (values: [Float], maxima: [Float])
        if wanted.count == T {  // every row (one token per sequence, or .all): no gathering
            logits = logitsAndMaxima(hidden: hidden, workspace: ws)
        } else {
            var gathered = [Float](repeating: 0, count: wanted.count * c.hidden)
            for (i, r) in wanted.enumerated() {
                gathered.replaceSubrange((i * c.hidden)..<((i + 1) * c.hidden), with: hidden[(r * c.hidden)..<((r + 1) * c.hidden)])
            }
            logits = logitsAndMaxima(hidden: gathered, workspace: ws)
        }
        clock.lap(.lmHead)
        ws.profile?.finishPass()
        return ForwardPassOutput(hidden: hidden, logits: logits.values, logitMaxima: logits.maxima, hiddenRows: hiddenRows,
                                 logitRows: logitRows, width: (c.hidden, c.vocab))
    }

    /// Whether a pass over `tokens` rows runs each row's residual adds and norms inside the
    /// products' parallel quantize step (so a profile counts them in the product after them).
    public func rowStepsRunInProducts(tokens: Int) -> Bool { precision.isInteger && tokens >= Self.parallelQuantizeRows }

    /// From this many rows a product's integer activations are rounded by all threads, each its
    /// own rows (below, one thread does it faster than a dispatch).
    private static let parallelQuantizeRows = 16

    /// The LM head over final hidden states [N, hidden] (already normalised): logits [N, vocab].
    /// (Without the rows' maxima: the callers here, training and teacher forcing, do not decode.)
    public func logits(hidden: [Float], workspace ws: Workspace) -> [Float] {
        logitsAndMaxima(hidden: hidden, workspace: ws, maxima: false).values
    }

    /// The logits and, with `maxima`, each row's largest logit, which the LM head's threads take
    /// as they go (the AutoDeco statistics need it, and a pass of their own over the logits would
    /// read them from memory: the LM head's weights evict them from the caches).
    func logitsAndMaxima(hidden: [Float], workspace ws: Workspace, maxima wanted: Bool = true) -> (values: [Float], maxima: [Float]) {
        let n = hidden.count / config.hidden
        guard n > 0 else { return ([], []) }
        let threads = pool.threadCount
        var maxima = [Float](repeating: -.infinity, count: wanted ? n : 0)
        // Not zero-filled first: the LM head writes every entry, each thread its own rows (a
        // zero-fill on the calling thread would pull the other thread's rows through its cache).
        let values = hidden.withUnsafeBufferPointer { h in
            [Float](unsafeUninitializedCapacity: n * config.vocab) { l, count in
                withUnsafeTemporaryAllocation(of: Float.self, capacity: wanted ? threads * n : 0) { perThread in
                    lmHead(h.baseAddress!, rows: n, into: l.baseAddress!, maxima: wanted ? perThread.baseAddress! : nil, workspace: ws)
                    guard wanted else { return }
                    for k in 0..<threads {
                        for t in 0..<n where perThread[k * n + t] > maxima[t] { maxima[t] = perThread[k * n + t] }
                    }
                }
                count = n * config.vocab
            }
        }
        return (values, maxima)
    }

    /// `maxima`: [threads, n] or nil, each thread's largest logit of each row.
    private func lmHead(_ hidden: UnsafePointer<Float>, rows n: Int, into out: UnsafeMutablePointer<Float>,
                        maxima: UnsafeMutablePointer<Float>?, workspace ws: Workspace) {
        guard n > 0 else { return }
        ws.prepare(tokens: n, context: 0)  // the integer path's activation buffers hold n rows
        linear(ProductList((weights.output, out)), input: hidden, tokens: n, ws: ws, maxima: maxima)
    }

    // MARK: - Steps

    /// Biases, per-head q/k norms and RoPE (the rows' tables, computed once per pass), applied to each token's q and k.
    private func prepareQK(_ L: LayerWeights, q: UnsafeMutablePointer<Float>, k: UnsafeMutablePointer<Float>,
                           v: UnsafeMutablePointer<Float>, tokens T: Int, ws: Workspace) {
        let c = config
        for t in 0..<T {
            let cs = ws.ropeTable.pointer + t * c.headDim
            let qt = q + t * c.qDim, kt = k + t * c.kvDim
            if let bq = L.bq, let bk = L.bk, let bv = L.bv {
                VectorOps.add(qt, bq, n: c.qDim); VectorOps.add(kt, bk, n: c.kvDim)
                VectorOps.add(v + t * c.kvDim, bv, n: c.kvDim)
            }
            if let qn = L.qNorm, let kn = L.kNorm {
                for h in 0..<c.heads { VectorOps.rmsNorm(qt + h * c.headDim, qn, qt + h * c.headDim, n: c.headDim, eps: c.normEps) }
                for h in 0..<c.kvHeads { VectorOps.rmsNorm(kt + h * c.headDim, kn, kt + h * c.headDim, n: c.headDim, eps: c.normEps) }
            }
            rope.apply(qt, heads: c.heads, headDim: c.headDim, table: cs)
            rope.apply(kt, heads: c.kvHeads, headDim: c.headDim, table: cs)
        }
    }

    /// Causal grouped-query attention: row t attends over its own cache up to its position; out is [T, qDim].
    private func attention(layer: Int, q: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>,
                           caches: [KVCache], positions: [Int], ws: Workspace) {
        let c = config, d = c.headDim
        let group = c.heads / c.kvHeads
        let scale = 1 / Float(d).squareRoot()
        let T = positions.count, n = pool.threadCount
        let maxChunks = Attention.chunks(length: (positions.max() ?? 0) + 1)
        // Few rows at depth (one decoded token over a long cache): each chunk of positions is a
        // task of its own, so that both threads share every KV head and each K/V row is read
        // once; the chunks' parts are combined in a second step. Otherwise a task runs a row's
        // chunks one after the other (the same arithmetic, so the same bits either way).
        let split = maxChunks > 1 && T * c.kvHeads < 4 * n
        let chunksPerRow = split ? maxChunks : 1
        // One task per (row, KV head) reads each K/V row once for its query heads; with fewer
        // than four such tasks per thread, one per query head balances the threads better.
        let grouped = T * c.kvHeads * chunksPerRow >= 4 * n
        let perTask = grouped ? group : 1
        let headTasks = c.heads / perTask
        let tasksPerRow = headTasks * chunksPerRow, tasks = T * tasksPerRow
        let ps = Attention.partStride(headDim: d)
        // Parts [row][chunk][head][partStride] when split.
        let parts = split ? ws.attentionParts.reserve(T * maxChunks * c.heads * ps) : ws.attentionParts.pointer
        withUnsafeTemporaryAllocation(of: KVLayerView.self, capacity: T) { views in
            withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: n) { scratch in
                positions.withUnsafeBufferPointer { pos in
                    for t in 0..<T { views.initializeElement(at: t, to: caches[t].view(layer: layer)) }
                    for k in 0..<n { scratch.initializeElement(at: k, to: ws.scores[k].pointer) }
                    let region = AttentionRegion(queryWidth: c.qDim, heads: c.heads, headDim: d, group: group, scale: scale,
                                                 perTask: perTask, headTasks: headTasks, tasksPerRow: tasksPerRow, tasks: tasks,
                                                 threads: n, split: split, maxChunks: maxChunks, partStride: ps, parts: parts,
                                                 queries: q, out: out, rows: UnsafePointer(views.baseAddress!),
                                                 positions: pos.baseAddress!, scratch: UnsafePointer(scratch.baseAddress!))
                    // Parallel unless the whole attention is a few hundred multiply-adds (less than a dispatch).
                    if T * c.heads * ((positions.max() ?? 0) + 1) < 256 { for i in 0..<n { region.run(part: i) } } else { pool.run(region) }
                    if split { pool.run(AttentionCombineRegion(attention: region, rowCount: T)) }
                }
            }
        }
    }

    /// out_i = input W_i^T for each (W_i, out_i), all sharing one input [T, cols]; one parallel
    /// region over the concatenated rows of all matrices. `rowsFirst(rows)` computes those rows
    /// of the input first: inside the parallel quantize step when there is one, else on the caller.
    /// `paired`: the matrices have the same rows and each thread computes the same rows of every
    /// one (rather than its share of their concatenation), then applies SwiGLU to them while its
    /// outputs are in its cache.
    /// `maxima` ([threads, T], one matrix only): each thread's largest output of each token.
    private func linear(_ mats: ProductList, input: UnsafePointer<Float>,
                        tokens T: Int, ws: Workspace, rowsFirst: RowSteps? = nil,
                        paired: SwiGLUColumns? = nil, maxima: UnsafeMutablePointer<Float>? = nil) {
        let cols = mats[0].0.cols
        let total = mats.reduce(0) { $0 + $1.0.rows }
        let eightBit = precision == .int8
            ? QuantizedActivations.EightBitParts(bytes: ws.qBytes.pointer, outliers: ws.qOutliers.pointer,
                                                 integerSums: ws.qIntegerSums.pointer) : nil
        let quantized = precision.isInteger && mats.allSatisfy { $0.0.acceptsQuantizedActivations }
            ? QuantizedActivations(values: ws.qValues.pointer, scales: ws.qScales.pointer, sums: ws.qSums.pointer,
                                   cols: cols, eightBit: eightBit) : nil
        let sums = ws.blockSums.pointer
        if let quantized, T >= Self.parallelQuantizeRows {
            pool.run(QuantizeRegion(quantized: quantized, input: input, rowSteps: rowsFirst, tokens: T, threads: pool.threadCount))
        } else {
            rowsFirst?.apply(rows: 0..<T)
            if let quantized {
                quantized.quantize(input, tokens: 0..<T)
            } else if T == 1 && mats.contains(where: { $0.0.needsBlockSums }) {
                blockSums(input, cols: cols, into: sums)
            }
        }
        let n = pool.threadCount
        // Packed matrices compute 16 rows at a time: split on multiples of 16.
        let unit = mats.allSatisfy { $0.0.packed != nil } ? 16 : 1
        if paired != nil {
            precondition(mats.allSatisfy { $0.0.rows == mats[0].0.rows }, "paired matrices of different heights")
        }
        withUnsafeTemporaryAllocation(of: UnsafeMutablePointer<Float>.self, capacity: n) { panels in
            for k in 0..<n { panels.initializeElement(at: k, to: ws.panels[k].pointer) }
            pool.run(ProductRegion(matrices: mats, totalRows: total, unit: unit, threads: n, quantized: quantized,
                                   input: input, blockSums: sums, tokens: T, panels: UnsafePointer(panels.baseAddress!),
                                   paired: paired, maxima: maxima))
        }
    }
}
