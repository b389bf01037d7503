import Kernels

/// Causal grouped-query attention over every row's own cache, as the value that
/// `ThreadPool.run(_:)` gives each thread (`LlamaModel.attention` sets it up): the threads take
/// interleaved (row, head, chunk) tasks, which balances the causal triangle. Plain data only:
/// the caches are reached through views, so the threads never write a shared reference count.
struct AttentionRegion: ParallelWork {
    let queryWidth: Int, heads: Int, headDim: Int, group: Int, scale: Float
    /// Query heads per task (a whole group, or one), tasks per row, all tasks, and the threads.
    let perTask: Int, headTasks: Int, tasksPerRow: Int, tasks: Int, threads: Int
    /// Whether each chunk of positions is a task of its own, its parts combined afterwards
    /// (`AttentionCombineRegion`) at [row][chunk][head][partStride].
    let split: Bool, maxChunks: Int, partStride: Int
    let parts: UnsafeMutablePointer<Float>
    let queries: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>
    /// Per row: its cache's layer and its position.
    let rows: UnsafePointer<KVLayerView>, positions: UnsafePointer<Int>
    /// Per thread: its scratch.
    let scratch: UnsafePointer<UnsafeMutablePointer<Float>>

    /// A task's row, first query head, KV head and chunk.
    @inline(__always) func decode(_ task: Int) -> (row: Int, head: Int, kvHead: Int, chunk: Int) {
        let r = task % tasksPerRow, h = (r % headTasks) * perTask
        return (task / tasksPerRow, h, h / group, r / headTasks)
    }

    func run(part thread: Int) {
        let d = headDim, scores = scratch[thread]
        var task = thread
        while task < tasks {
            if task + threads < tasks {
                let next = decode(task + threads), cache = rows[next.row], lo = next.chunk * Attention.chunk
                let length = positions[next.row] + 1
                if lo < length {
                    Attention.prefetchFirstKeys(cache.keys(head: next.kvHead) + lo * d * cache.element.bytes,
                                                elementBytes: cache.element.bytes, stride: d, length: length - lo, headDim: d)
                }
            }
            let (t, h, kvh, chunk) = decode(task), cache = rows[t], length = positions[t] + 1
            task += threads
            guard chunk < Attention.chunks(length: length) else { continue }
            let keys = cache.keys(head: kvh), values = cache.values(head: kvh)
            let q = queries + t * queryWidth + h * d
            if split {
                let part = parts + ((t * maxChunks + chunk) * heads + h) * partStride
                switch cache.element {
                case .float16:
                    Attention.attendChunk(chunk, queries: q, heads: perTask, keys: keys.assumingMemoryBound(to: Float16.self),
                                          values: values.assumingMemoryBound(to: Float16.self), stride: d, length: length,
                                          headDim: d, scale: scale, scores: scores, part: part)
                case .float32:
                    Attention.attendChunk(chunk, queries: q, heads: perTask, keys: keys.assumingMemoryBound(to: Float.self),
                                          values: values.assumingMemoryBound(to: Float.self), stride: d, length: length,
                                          headDim: d, scale: scale, scores: scores, part: part)
                }
                continue
            }
            let output = out + t * queryWidth + h * d
            switch cache.element {
            case .float16:
                Attention.attend(queries: q, heads: perTask, keys: keys.assumingMemoryBound(to: Float16.self),
                                 values: values.assumingMemoryBound(to: Float16.self), stride: d,
                                 length: length, headDim: d, scale: scale, scratch: scores, out: output)
            case .float32:
                Attention.attend(queries: q, heads: perTask, keys: keys.assumingMemoryBound(to: Float.self),
                                 values: values.assumingMemoryBound(to: Float.self), stride: d,
                                 length: length, headDim: d, scale: scale, scratch: scores, out: output)
            }
        }
    }
}

/// The second step of a split attention: each (row, query head) folds its chunks' parts in order.
struct AttentionCombineRegion: ParallelWork {
    let attention: AttentionRegion
    let rowCount: Int

    func run(part thread: Int) {
        let a = attention
        var i = thread
        while i < rowCount * a.heads {
            let t = i / a.heads, h = i % a.heads
            Attention.combine(parts: a.parts + (t * a.maxChunks * a.heads + h) * a.partStride, spacing: a.heads * a.partStride,
                              count: Attention.chunks(length: a.positions[t] + 1), headDim: a.headDim,
                              out: a.out + t * a.queryWidth + h * a.headDim)
            i += a.threads
        }
    }
}
