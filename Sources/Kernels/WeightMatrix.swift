/// A row-major weight matrix [rows, cols] in its stored (possibly quantized)
/// format, viewed in place (usually inside a memory-mapped model file).
/// Row r holds the weights of output r: y[r] = dot(W[r, :], x).
public struct WeightMatrix: @unchecked Sendable {
    public let format: WeightFormat
    public let rows: Int
    public let cols: Int
    public let data: UnsafeRawPointer
    public let rowBytes: Int
    /// A 16-row packed copy for the AVX-512 VNNI integer kernels (see `packedInto16Rows`), or nil.
    public internal(set) var packed: PackedRows16?

    public init(format: WeightFormat, rows: Int, cols: Int, data: UnsafeRawPointer) {
        precondition(cols % format.block.values == 0, "cols must be a multiple of the block size")
        self.format = format; self.rows = rows; self.cols = cols; self.data = data
        self.rowBytes = format.rowBytes(cols)
    }

    public var byteCount: Int { rows * rowBytes }

    @inline(__always) func row(_ r: Int) -> UnsafeRawPointer { data + r * rowBytes }

    /// Whether `dot` wants per-32-block sums of x (Q4_1 uses them for its offset term).
    public var needsBlockSums: Bool { format == .q4_1 }

    // MARK: - Dequantization

    /// Writes row r as `cols` floats.
    public func dequantizeRow(_ r: Int, into out: UnsafeMutablePointer<Float>) {
        let p = row(r)
        switch format {
        case .f32:
            out.update(from: p.assumingMemoryBound(to: Float.self), count: cols)
        case .f16:
            var i = 0
            while i + 8 <= cols {
                let h = p.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)
                storeSIMD(SIMD8<Float>(h), out + i); i += 8
            }
            while i < cols { out[i] = loadF16(p, 2 * i); i += 1 }
        case .bf16:
            for i in 0..<cols { out[i] = loadBF16(p, 2 * i) }
        case .q8_0:
            for b in 0..<(cols / 32) {
                let blk = p + b * Q8_0.blockBytes
                let d = SIMD16<Float>(repeating: loadF16(blk, 0))
                let q0 = blk.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)
                let q1 = blk.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)
                storeSIMD(toFloat(q0) * d, out + 32 * b)
                storeSIMD(toFloat(q1) * d, out + 32 * b + 16)
            }
        case .q4_0:
            for b in 0..<(cols / 32) {
                let blk = p + b * Q4_0.blockBytes
                let d = SIMD16<Float>(repeating: loadF16(blk, 0))
                let q = blk.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
                let eight = SIMD16<Float>(repeating: 8)
                storeSIMD((toFloat(q & 0x0F) - eight) * d, out + 32 * b)
                storeSIMD((toFloat(q &>> 4) - eight) * d, out + 32 * b + 16)
            }
        case .q4_1:
            for b in 0..<(cols / 32) {
                let blk = p + b * Q4_1.blockBytes
                let d = SIMD16<Float>(repeating: loadF16(blk, 0))
                let m = SIMD16<Float>(repeating: loadF16(blk, 2))
                let q = blk.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
                storeSIMD(m.addingProduct(toFloat(q & 0x0F), d), out + 32 * b)
                storeSIMD(m.addingProduct(toFloat(q &>> 4), d), out + 32 * b + 16)
            }
        }
    }

    // MARK: - Fused dot products (decode path: weights read once, never expanded in memory)

    /// dot(W[r, :], x). `blockSums[b]` = sum of x[32b..<32b+32], required when `needsBlockSums`.
    @inline(__always)
    public func dot(row r: Int, _ x: UnsafePointer<Float>, blockSums: UnsafePointer<Float>?) -> Float {
        let p = row(r)
        switch format {
        case .q4_1: return dotQ4_1(p, x, blockSums!, cols / 32)
        case .q8_0: return dotQ8_0(p, x, cols / 32)
        case .q4_0: return dotQ4_0(p, x, cols / 32)
        case .f32: return dotF32(p.assumingMemoryBound(to: Float.self), x, cols)
        case .f16, .bf16:
            var s: Float = 0
            for i in 0..<cols { s += (format == .f16 ? loadF16(p, 2 * i) : loadBF16(p, 2 * i)) * x[i] }
            return s
        }
    }
}

// MARK: - SIMD helpers

// The stdlib's SIMD conversion initialisers resolve to pre-specialised, out-of-line
// functions (a call per vector, measured 3 GB/s for a Q4_1 matvec); a plain lane loop is
// inlined and the SLP vectoriser turns it into vpmovzx/vpmovsx + vcvtdq2ps.
@inline(__always) func toFloat(_ v: SIMD16<UInt8>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(v[i]) }
    return r
}

@inline(__always) func toFloat(_ v: SIMD16<Int8>) -> SIMD16<Float> {
    var r = SIMD16<Float>()
    for i in 0..<16 { r[i] = Float(v[i]) }
    return r
}

@inline(__always) func loadSIMD16(_ p: UnsafePointer<Float>) -> SIMD16<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD16<Float>.self)
}

@inline(__always) func loadSIMD8(_ p: UnsafePointer<Float>) -> SIMD8<Float> {
    UnsafeRawPointer(p).loadUnaligned(as: SIMD8<Float>.self)
}

@inline(__always) func storeSIMD(_ v: SIMD16<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD16<Float>.self)
}

@inline(__always) func storeSIMD(_ v: SIMD8<Float>, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: SIMD8<Float>.self)
}

@inline(__always)
func dotQ4_1(_ p: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ sums: UnsafePointer<Float>, _ nBlocks: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var offsetTerm: Float = 0
    var b = 0
    while b + 2 <= nBlocks {
        let blk0 = p + b * Q4_1.blockBytes, blk1 = blk0 + Q4_1.blockBytes
        let q0 = blk0.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
        let q1 = blk1.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
        let x0 = x + 32 * b
        var t0 = toFloat(q0 & 0x0F) * loadSIMD16(x0)
        t0.addProduct(toFloat(q0 &>> 4), loadSIMD16(x0 + 16))
        var t1 = toFloat(q1 & 0x0F) * loadSIMD16(x0 + 32)
        t1.addProduct(toFloat(q1 &>> 4), loadSIMD16(x0 + 48))
        acc0.addProduct(t0, SIMD16(repeating: loadF16(blk0, 0)))
        acc1.addProduct(t1, SIMD16(repeating: loadF16(blk1, 0)))
        offsetTerm += loadF16(blk0, 2) * sums[b] + loadF16(blk1, 2) * sums[b + 1]
        b += 2
    }
    if b < nBlocks {
        let blk = p + b * Q4_1.blockBytes
        let q = blk.loadUnaligned(fromByteOffset: 4, as: SIMD16<UInt8>.self)
        var t = toFloat(q & 0x0F) * loadSIMD16(x + 32 * b)
        t.addProduct(toFloat(q &>> 4), loadSIMD16(x + 32 * b + 16))
        acc0.addProduct(t, SIMD16(repeating: loadF16(blk, 0)))
        offsetTerm += loadF16(blk, 2) * sums[b]
    }
    return (acc0 + acc1).sum() + offsetTerm
}

@inline(__always)
func dotQ4_0(_ p: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ nBlocks: Int) -> Float {
    var acc = SIMD16<Float>()
    let eight = SIMD16<Float>(repeating: 8)
    for b in 0..<nBlocks {
        let blk = p + b * Q4_0.blockBytes
        let q = blk.loadUnaligned(fromByteOffset: 2, as: SIMD16<UInt8>.self)
        var t = (toFloat(q & 0x0F) - eight) * loadSIMD16(x + 32 * b)
        t.addProduct(toFloat(q &>> 4) - eight, loadSIMD16(x + 32 * b + 16))
        acc.addProduct(t, SIMD16(repeating: loadF16(blk, 0)))
    }
    return acc.sum()
}

@inline(__always)
func dotQ8_0(_ p: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ nBlocks: Int) -> Float {
    var acc0 = SIMD16<Float>(), acc1 = SIMD16<Float>()
    var b = 0
    while b + 2 <= nBlocks {
        let blk0 = p + b * Q8_0.blockBytes, blk1 = blk0 + Q8_0.blockBytes
        let x0 = x + 32 * b
        var t0 = toFloat(blk0.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)) * loadSIMD16(x0)
        t0.addProduct(toFloat(blk0.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)), loadSIMD16(x0 + 16))
        var t1 = toFloat(blk1.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)) * loadSIMD16(x0 + 32)
        t1.addProduct(toFloat(blk1.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)), loadSIMD16(x0 + 48))
        acc0.addProduct(t0, SIMD16(repeating: loadF16(blk0, 0)))
        acc1.addProduct(t1, SIMD16(repeating: loadF16(blk1, 0)))
        b += 2
    }
    if b < nBlocks {
        let blk = p + b * Q8_0.blockBytes
        var t = toFloat(blk.loadUnaligned(fromByteOffset: 2, as: SIMD16<Int8>.self)) * loadSIMD16(x + 32 * b)
        t.addProduct(toFloat(blk.loadUnaligned(fromByteOffset: 18, as: SIMD16<Int8>.self)), loadSIMD16(x + 32 * b + 16))
        acc0.addProduct(t, SIMD16(repeating: loadF16(blk, 0)))
    }
    return (acc0 + acc1).sum()
}

/// Plain float dot product with four independent SIMD accumulators.
@inline(__always)
public func dotF32(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var i = 0
    while i + 32 <= n {
        a0.addProduct(loadSIMD8(a + i), loadSIMD8(b + i))
        a1.addProduct(loadSIMD8(a + i + 8), loadSIMD8(b + i + 8))
        a2.addProduct(loadSIMD8(a + i + 16), loadSIMD8(b + i + 16))
        a3.addProduct(loadSIMD8(a + i + 24), loadSIMD8(b + i + 24))
        i += 32
    }
    while i + 8 <= n { a0.addProduct(loadSIMD8(a + i), loadSIMD8(b + i)); i += 8 }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while i < n { s += a[i] * b[i]; i += 1 }
    return s
}
