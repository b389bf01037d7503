import CKernels
import Foundation

/// What a KV cache row can hold: float32, or float16 (half the bytes that attention reads per
/// position; llama.cpp's default cache type). Rows are widened to float32 as they are read.
public protocol KVElement {
    /// Eight consecutive values as float32.
    static func load8(_ p: UnsafePointer<Self>) -> SIMD8<Float>
    static func float(_ v: Self) -> Float
    /// dst[i] = src[i] rounded to this type (to nearest, ties to even).
    static func store(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Self>, count: Int)
}

extension Float: KVElement {
    @inline(__always) public static func load8(_ p: UnsafePointer<Float>) -> SIMD8<Float> { loadSIMD8(p) }
    @inline(__always) public static func float(_ v: Float) -> Float { v }
    @inline(__always) public static func store(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, count: Int) {
        dst.update(from: src, count: count)
    }
}

extension Float16: KVElement {
    // SIMD8<Float16> <-> SIMD8<Float> compile to vcvtph2ps / vcvtps2ph (F16C, part of the haswell baseline).
    @inline(__always) public static func load8(_ p: UnsafePointer<Float16>) -> SIMD8<Float> {
        SIMD8<Float>(UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float16>.self))
    }
    @inline(__always) public static func float(_ v: Float16) -> Float { Float(v) }
    @inline(__always) public static func store(_ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float16>, count: Int) {
        var i = 0
        while i + 8 <= count {
            UnsafeMutableRawPointer(dst + i).storeBytes(of: SIMD8<Float16>(loadSIMD8(src + i)), as: SIMD8<Float16>.self)
            i += 8
        }
        while i < count { dst[i] = Float16(src[i]); i += 1 }
    }
}

/// Causal attention of the query heads that share one KV head, over a KV cache.
public enum Attention {
    /// How many bytes of K rows ahead of the one in use are prefetched (4 float32 rows of 64).
    static let bytesAhead = 1024

    /// Prefetches the K rows that `attend` reads before its own prefetches reach them: call it
    /// for the next task while the current one computes. `k` points at row 0 of a float32 or
    /// float16 cache; rows are `stride` elements of `elementBytes` apart.
    @inline(__always)
    public static func prefetchFirstKeys(_ k: UnsafeRawPointer, elementBytes: Int, stride: Int, length: Int, headDim d: Int) {
        let rowBytes = d * elementBytes, ahead = max(1, bytesAhead / rowBytes)
        for p in 0..<min(length, ahead) { ad_prefetch(k + p * stride * elementBytes, rowBytes) }
    }

    /// A row's positions are cut into chunks of this many. Each chunk's softmax part (its maximum
    /// score, the sum of its exponentials and their unnormalised weighted sum of V rows) is
    /// computed on its own, and the parts are folded in chunk order. The chunks of one long row
    /// can then run on different threads (one decoded token at depth has no other parallelism
    /// that reads each KV row once), and because the cut depends on the position only, never on
    /// threads or batch, every schedule gives the same bits.
    public static let chunk = 128

    /// Chunks of a row attending to `length` positions.
    @inline(__always)
    public static func chunks(length: Int) -> Int { (length + chunk - 1) / chunk }

    /// Floats per head of a chunk's part: its maximum score, its sum of exponentials, then the
    /// `headDim` values of its unnormalised output.
    @inline(__always)
    public static func partStride(headDim d: Int) -> Int { d + 2 }

    /// Scratch floats that `attend` needs for `heads` heads: one chunk's scores, one chunk's part
    /// and the running fold.
    public static func scratchCount(heads g: Int, headDim d: Int) -> Int { g * (chunk + 2 * partStride(headDim: d)) }

    /// For each of the `heads` query heads j (queries and outputs `headDim` floats apart):
    /// out_j[headDim] = sum_p softmax_p(q_j . K[p] * scale) V[p] for p in 0..<length.
    /// K and V rows for this KV head are `stride` elements apart; `scratch` holds
    /// `scratchCount(heads:headDim:)` floats.
    ///
    /// Each K and V row is read from memory once and serves every head of the group from L1 (the
    /// cache keeps each KV head's positions contiguous, so they stream in order). Every head's
    /// arithmetic is the same whatever `heads` is, so a group computed together gives the results
    /// of its heads computed one by one, to the bit; and the chunks computed here one after the
    /// other give the bits of `attendChunk` on each followed by `combine`.
    public static func attend(queries q: UnsafePointer<Float>, heads g: Int, keys k: UnsafePointer<Float>,
                              values v: UnsafePointer<Float>, stride: Int, length: Int, headDim d: Int, scale: Float,
                              scratch: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        attendRows(queries: q, heads: g, keys: k, values: v, stride: stride, length: length, headDim: d, scale: scale,
                   scratch: scratch, out: out)
    }

    /// The same over a float16 cache: each row widened to float32 as it is read.
    public static func attend(queries q: UnsafePointer<Float>, heads g: Int, keys k: UnsafePointer<Float16>,
                              values v: UnsafePointer<Float16>, stride: Int, length: Int, headDim d: Int, scale: Float,
                              scratch: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        attendRows(queries: q, heads: g, keys: k, values: v, stride: stride, length: length, headDim: d, scale: scale,
                   scratch: scratch, out: out)
    }

    /// Chunk `c` of a row on its own: writes each head's part (`partStride` floats per head,
    /// consecutive) to `part`. `scores` holds `heads * chunk` floats.
    public static func attendChunk(_ c: Int, queries q: UnsafePointer<Float>, heads g: Int, keys k: UnsafePointer<Float>,
                                   values v: UnsafePointer<Float>, stride: Int, length: Int, headDim d: Int, scale: Float,
                                   scores: UnsafeMutablePointer<Float>, part: UnsafeMutablePointer<Float>) {
        chunkPart(c, queries: q, heads: g, keys: k, values: v, stride: stride, length: length, headDim: d, scale: scale,
                  scores: scores, part: part)
    }

    /// The same over a float16 cache.
    public static func attendChunk(_ c: Int, queries q: UnsafePointer<Float>, heads g: Int, keys k: UnsafePointer<Float16>,
                                   values v: UnsafePointer<Float16>, stride: Int, length: Int, headDim d: Int, scale: Float,
                                   scores: UnsafeMutablePointer<Float>, part: UnsafeMutablePointer<Float>) {
        chunkPart(c, queries: q, heads: g, keys: k, values: v, stride: stride, length: length, headDim: d, scale: scale,
                  scores: scores, part: part)
    }

    /// One head's output from the parts of its `count` chunks (`partStride` floats each, `spacing`
    /// floats apart, in chunk order): folds them in order into the first part (which it
    /// overwrites), then writes out[headDim] = output / sum.
    public static func combine(parts: UnsafeMutablePointer<Float>, spacing: Int, count: Int, headDim d: Int,
                               out: UnsafeMutablePointer<Float>) {
        for c in 1..<max(count, 1) { fold(parts + c * spacing, into: parts, headDim: d) }
        finish(parts, headDim: d, out: out)
    }

    // Generic inside this module only, where it is specialised per element type (a generic
    // public entry would be called unspecialised from other modules: a witness call per load).
    @inline(__always)
    static func attendRows<E: KVElement>(queries q: UnsafePointer<Float>, heads g: Int, keys k: UnsafePointer<E>,
                                         values v: UnsafePointer<E>, stride: Int, length: Int, headDim d: Int, scale: Float,
                                         scratch: UnsafeMutablePointer<Float>, out: UnsafeMutablePointer<Float>) {
        let ps = partStride(headDim: d)
        let scores = scratch, state = scratch + g * chunk, part = state + g * ps
        for c in 0..<chunks(length: length) {
            chunkPart(c, queries: q, heads: g, keys: k, values: v, stride: stride, length: length, headDim: d, scale: scale,
                      scores: scores, part: c == 0 ? state : part)
            if c > 0 { for j in 0..<g { fold(part + j * ps, into: state + j * ps, headDim: d) } }
        }
        for j in 0..<g { finish(state + j * ps, headDim: d, out: out + j * d) }
    }

    @inline(__always)
    static func chunkPart<E: KVElement>(_ c: Int, queries q: UnsafePointer<Float>, heads g: Int, keys k: UnsafePointer<E>,
                                        values v: UnsafePointer<E>, stride: Int, length: Int, headDim d: Int, scale: Float,
                                        scores: UnsafeMutablePointer<Float>, part: UnsafeMutablePointer<Float>) {
        let lo = c * chunk, n = min(length, lo + chunk) - lo
        let rowBytes = d * MemoryLayout<E>.stride, ahead = max(1, bytesAhead / rowBytes)
        // The AVX-512 chunk (attention512.c) for head sizes 64 and 128; E is a constant here.
        if VectorOps.passesUseAVX512 && (E.self == Float16.self || E.self == Float.self)
            && ad_attend_chunk_avx512(E.self == Float16.self ? 1 : 0, q, Int32(g), k + lo * stride, v + lo * stride, stride,
                                      Int32(n), Int32(d), scale, Int32(ahead), scores, Int32(chunk), part) != 0 {
            return
        }
        for p in 0..<n {
            let row = k + (lo + p) * stride
            // The rows come from memory (the weights streamed in since evicted them) and are too
            // few for the hardware prefetcher to ramp up: fetch K a few rows ahead, and V for the
            // weighted sum that follows.
            ad_prefetch(row + ahead * stride, rowBytes)
            ad_prefetch(v + (lo + p) * stride, rowBytes)
            for j in 0..<g { scores[j * chunk + p] = dot(q + j * d, row, d) * scale }
        }
        let ps = partStride(headDim: d)
        for j in 0..<g {
            let s = scores + j * chunk, h = part + j * ps
            let m = VectorOps.max(s, n: n)
            h[0] = m
            h[1] = VectorOps.storeExp(s, n: n, shift: m, scale: 1, into: s)
            weightedSum(s, rows: v + lo * stride, stride: stride, count: n, width: d, into: h + 2)
        }
    }

    /// state = state + part, as softmax parts: both rescaled to the larger maximum.
    @inline(__always)
    static func fold(_ part: UnsafePointer<Float>, into state: UnsafeMutablePointer<Float>, headDim d: Int) {
        let m = Swift.max(state[0], part[0])
        let a = expf(state[0] - m), b = expf(part[0] - m)
        state[0] = m
        state[1] = state[1] * a + part[1] * b
        let sa = SIMD8<Float>(repeating: a), sb = SIMD8<Float>(repeating: b)
        var i = 0
        while i + 8 <= d {
            storeSIMD(loadSIMD8(state + 2 + i) * sa + loadSIMD8(part + 2 + i) * sb, state + 2 + i)
            i += 8
        }
        while i < d { state[2 + i] = state[2 + i] * a + part[2 + i] * b; i += 1 }
    }

    @inline(__always)
    static func finish(_ state: UnsafePointer<Float>, headDim d: Int, out: UnsafeMutablePointer<Float>) {
        let inv = 1 / state[1]
        for i in 0..<d { out[i] = state[2 + i] * inv }
    }

    /// q . row, four chains of eight lanes.
    @inline(__always)
    static func dot<E: KVElement>(_ q: UnsafePointer<Float>, _ row: UnsafePointer<E>, _ n: Int) -> Float {
        var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
        var i = 0
        while i + 32 <= n {
            a0.addProduct(loadSIMD8(q + i), E.load8(row + i)); a1.addProduct(loadSIMD8(q + i + 8), E.load8(row + i + 8))
            a2.addProduct(loadSIMD8(q + i + 16), E.load8(row + i + 16)); a3.addProduct(loadSIMD8(q + i + 24), E.load8(row + i + 24))
            i += 32
        }
        while i + 8 <= n { a0.addProduct(loadSIMD8(q + i), E.load8(row + i)); i += 8 }
        var s = ((a0 + a1) + (a2 + a3)).sum()
        while i < n { s += q[i] * E.float(row[i]); i += 1 }
        return s
    }

    /// out[width] = sum_p w[p] rows[p], 32 columns at a time in registers (not an axpy per row,
    /// which would load and store the whole output once per position).
    @inline(__always)
    static func weightedSum<E: KVElement>(_ w: UnsafePointer<Float>, rows v: UnsafePointer<E>, stride: Int, count: Int,
                                          width d: Int, into out: UnsafeMutablePointer<Float>) {
        var c = 0
        while c + 32 <= d {
            var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
            for p in 0..<count {
                let s = SIMD8<Float>(repeating: w[p]), r = v + p * stride + c
                a0.addProduct(s, E.load8(r)); a1.addProduct(s, E.load8(r + 8))
                a2.addProduct(s, E.load8(r + 16)); a3.addProduct(s, E.load8(r + 24))
            }
            storeSIMD(a0, out + c); storeSIMD(a1, out + c + 8); storeSIMD(a2, out + c + 16); storeSIMD(a3, out + c + 24)
            c += 32
        }
        while c + 8 <= d {
            var a = SIMD8<Float>()
            for p in 0..<count { a.addProduct(SIMD8<Float>(repeating: w[p]), E.load8(v + p * stride + c)) }
            storeSIMD(a, out + c)
            c += 8
        }
        while c < d {
            var a: Float = 0
            for p in 0..<count { a += w[p] * E.float(v[p * stride + c]) }
            out[c] = a
            c += 1
        }
    }
}
