import Foundation
import Testing
import Kernels

/// The integer-activation kernels (C, AVX2 and portable) against a float64 computation of the
/// same quantities: dequantized weights times the dequantized int16 activations.
@Suite(.serialized) struct IntegerKernelTests {
    /// Rounded activations whose buffers live as long as this object (16 or 8 bits).
    final class Rounded {
        let values: UnsafeMutablePointer<Int16>, scales: UnsafeMutablePointer<Float>, sums: UnsafeMutablePointer<Float>
        let bytes: UnsafeMutablePointer<Int8>, outliers: UnsafeMutablePointer<Int8>, integerSums: UnsafeMutablePointer<Int32>
        let activations: QuantizedActivations
        let count: Int

        init(_ x: [Float], cols: Int, eightBit: Bool) {
            count = x.count
            values = .allocate(capacity: count); bytes = .allocate(capacity: count)
            scales = .allocate(capacity: count / 32); sums = .allocate(capacity: count / 32)
            outliers = .allocate(capacity: count / 32); integerSums = .allocate(capacity: count / 32)
            let parts = eightBit ? QuantizedActivations.EightBitParts(bytes: bytes, outliers: outliers, integerSums: integerSums) : nil
            activations = QuantizedActivations(values: values, scales: scales, sums: sums, cols: cols, eightBit: parts)
            activations.quantize(x, tokens: 0..<(count / cols))
        }
        deinit {
            values.deallocate(); bytes.deallocate(); outliers.deallocate()
            scales.deallocate(); sums.deallocate(); integerSums.deallocate()
        }

        func value(_ i: Int) -> Int { Int(values[i]) }
        func scale(_ b: Int) -> Float { scales[b] }
    }

    static func quantized(_ x: [Float], cols: Int) -> (values: [Int16], scales: [Float], sums: [Float]) {
        let tokens = x.count / cols
        var q = [Int16](repeating: 0, count: x.count)
        var d = [Float](repeating: 0, count: x.count / 32), s = d
        q.withUnsafeMutableBufferPointer { qp in d.withUnsafeMutableBufferPointer { dp in s.withUnsafeMutableBufferPointer { sp in
            QuantizedActivations(values: qp.baseAddress!, scales: dp.baseAddress!, sums: sp.baseAddress!, cols: cols)
                .quantize(x, tokens: 0..<tokens)
        } } }
        return (q, d, s)
    }

    @Test func quantizationRoundsEachBlockToItsOwnScale() {
        let cols = 96
        var x = KernelTests.randomRow(cols, seed: 11)
        x[40] = 7.5; x[64...].indices.forEach { x[$0] = 0 }  // a block with an outlier, one all zero
        let (q, d, s) = Self.quantized(x, cols: cols)
        for b in 0..<3 {
            let block = x[(32 * b)..<(32 * b + 32)]
            let amax = block.map(abs).max()!
            #expect(abs(d[b] - amax / 32767) <= 1e-7 * max(amax, 1))
            #expect(abs(s[b] - block.reduce(0, +)) < 1e-4)
            for i in block.indices {
                #expect(abs(Float(q[i]) * d[b] - x[i]) <= d[b] / 2 + 1e-6, "value \(i)")
            }
        }
        #expect(q[40] == 32767 && d[2] == 0 && q[64...].allSatisfy { $0 == 0 })
    }

    /// 8 bits per block, except a block's largest value when it exceeds 1.5 times the second largest:
    /// that one keeps 16 bits (its byte is 0, its index is recorded) and the block is scaled by
    /// the second largest. The vector and portable roundings give the same integers.
    @Test func eightBitRoundingKeepsEachBlocksOutlier() throws {
        let cols = 160
        var x = KernelTests.randomRow(cols, seed: 12)
        x[40] = 9.0                                            // block 1: an outlier
        x[64] = 1.5; x[65] = -1.5                               // block 2: a tie at the top, no outlier
        x[96...].indices.forEach { x[$0] = 0 }; x[140] = -4      // block 4: one nonzero value
        x[96..<128].indices.forEach { x[$0] = 0 }               // block 3: all zero
        var runs = [Rounded]()
        for portable in [false, true] {
            let previous = MatMul.forcePortableIntegerKernels(portable)
            runs.append(Rounded(x, cols: cols, eightBit: true))
            MatMul.forcePortableIntegerKernels(previous)
        }
        let r = runs[0]
        let e = try #require(r.activations.eightBit)
        for b in 0..<(cols / 32) {
            let block = x[(32 * b)..<(32 * b + 32)]
            let sorted = block.map(abs).sorted(by: >)
            let flagged = sorted[0] > 1.5 * sorted[1]
            let d = max((flagged ? sorted[1] : sorted[0]) / 127, sorted[0] / 32767)
            #expect(abs(r.scale(b) - d) <= 1e-7 * max(d, 1e-30), "block \(b)")
            #expect(Int(e.outliers[b]) == (flagged ? block.indices.firstIndex { abs(x[$0]) == sorted[0] }! - 32 * b : -1), "block \(b)")
            var sum = 0
            for i in block.indices {
                sum += r.value(i)
                #expect(abs(Float(r.value(i)) * r.scale(b) - x[i]) <= r.scale(b) / 2 + 1e-6, "value \(i)")
                let isOutlier = flagged && Int(e.outliers[b]) == i - 32 * b
                #expect(Int(e.bytes[i]) == (isOutlier ? 0 : r.value(i)), "byte \(i)")
                if !isOutlier { #expect(abs(r.value(i)) <= 127, "value \(i)") }
            }
            #expect(Int(e.integerSums[b]) == sum, "block \(b)")
        }
        #expect(e.outliers[1] == 8 && r.value(40) > 127, "the outlier keeps 16 bits")
        #expect(e.outliers[2] == -1 && e.outliers[3] == -1 && r.scale(3) == 0)
        #expect(e.outliers[4] == 12 && r.value(140) == -32767)
        let p = runs[1], pe = try #require(p.activations.eightBit)
        for i in 0..<cols { #expect(r.values[i] == p.values[i] && e.bytes[i] == pe.bytes[i], "value \(i)") }
        for b in 0..<(cols / 32) {
            #expect(r.scales[b] == p.scales[b] && e.outliers[b] == pe.outliers[b] && e.integerSums[b] == pe.integerSums[b])
            #expect(abs(r.sums[b] - p.sums[b]) <= 1e-5 * max(1, abs(p.sums[b])))
        }
    }

    @Test(arguments: [(WeightFormat.q4_1, 1), (.q4_1, 3), (.q4_1, 4), (.q4_1, 9), (.q8_0, 1), (.q8_0, 6), (.q8_0, 17)],
          [false, true])
    func matmulEqualsFloat64OfTheSameRoundedInputs(formatAndTokens: (WeightFormat, Int), eightBit: Bool) {
        let (format, tokens) = formatAndTokens
        let rows = 37, cols = 160  // rows not a multiple of the 16-row blocks
        let w = (0..<rows).flatMap { KernelTests.randomRow(cols, seed: 500 + $0) }
        let bytes = (0..<rows).flatMap { Quantizer.quantize(Array(w[($0 * cols)..<(($0 + 1) * cols)]), to: format) }
        var x = (0..<tokens).flatMap { KernelTests.randomRow(cols, seed: 900 + $0).map { $0 * 3 } }
        for t in 0..<tokens { x[t * cols + 7 * t % cols] *= 40 }  // outliers, so that 8 bits keep some at 16
        let rounded = Rounded(x, cols: cols, eightBit: eightBit)
        let q = rounded.values, d = rounded.scales, s = rounded.sums
        // GGUF layout (AVX2 and portable), then 16-row packed in both layouts (VNNI where the CPU
        // has it, and portable); the 8-bit layout needs 8-bit activations.
        let layouts: [PackedRows16.Layout?] = eightBit ? [nil, .pairs16, .quads8] : [nil, .pairs16]
        for layout in layouts {
          for portable in [false, true] {
            let previous = MatMul.forcePortableIntegerKernels(portable)
            defer { MatMul.forcePortableIntegerKernels(previous) }
            var y = [Float](repeating: .nan, count: tokens * rows)
            var dequantized = [Float](repeating: 0, count: cols)
            let packed = layout != nil
            bytes.withUnsafeBytes { b in
                let plain = WeightMatrix(format: format, rows: rows, cols: cols, data: b.baseAddress!)
                // Holds the packed rows; kept alive until m's last use below.
                let arena = HugePageArena(byteCount: HugePageArena.byteCount(pieces: [layout.map { PackedRows16.byteCount(of: plain, layout: $0) } ?? 0]))
                let m = layout.map { plain.packedInto16Rows(layout: $0, pool: ThreadPool.shared(threads: 2), arena: arena) } ?? plain
                defer { withExtendedLifetime(arena) {} }
                MatMul.matmul(m, rounded.activations, tokens: tokens, &y, ldy: rows, rows: 0..<rows)
                for r in 0..<rows {
                    m.dequantizeRow(r, into: &dequantized)
                    for t in 0..<tokens {
                        var exact = 0.0
                        for i in 0..<cols {
                            let xi = Double(q[t * cols + i]) * Double(d[t * cols / 32 + i / 32])
                            exact += Double(dequantized[i]) * xi
                        }
                        if format == .q4_1 {
                            // Q4_1's offset term uses the exact block sums of x, not the rounded values.
                            for b in 0..<(cols / 32) {
                                let min = Double(dequantizedOffset(bytes, row: r, block: b, rowBytes: m.rowBytes))
                                var rounded = 0.0
                                for i in (32 * b)..<(32 * b + 32) { rounded += Double(q[t * cols + i]) * Double(d[t * cols / 32 + b]) }
                                exact += min * (Double(s[t * cols / 32 + b]) - rounded)
                            }
                        }
                        let got = Double(y[t * rows + r])
                        #expect(abs(got - exact) <= 1e-4 * max(1, abs(exact)), "\(format) packed=\(packed) portable=\(portable) t=\(t) r=\(r): \(got) vs \(exact)")
                    }
                }
            }
          }
        }
        if eightBit { #expect((0..<(tokens * cols / 32)).contains { rounded.outliers[$0] >= 0 }, "the test has outliers") }
    }

    /// The packed kernels: VNNI and the portable loop do the same arithmetic lane by lane, so they
    /// must agree to the bit, for any row range (groups split between threads write only their
    /// rows) and any token count (tiles of 8, chunks of 64).
    @Test(arguments: [WeightFormat.q4_1, .q8_0], [PackedRows16.Layout.pairs16, .quads8])
    func packedKernelIsBitIdenticalToItsPortableLoopAndWritesOnlyItsRows(format: WeightFormat, layout: PackedRows16.Layout) throws {
        try #require(PackedRows16.supportedByThisCPU, "no AVX-512 VNNI on this CPU: only the portable packed loop runs")
        let rows = 53, cols = 96, tokens = 70
        let bytes = (0..<rows).flatMap { Quantizer.quantize(KernelTests.randomRow(cols, seed: 40 + $0), to: format) }
        var x = (0..<tokens).flatMap { KernelTests.randomRow(cols, seed: 300 + $0).map { $0 * 2 } }
        for t in 0..<tokens { x[t * cols + 5 * t % cols] *= 40 }
        let rounded = Rounded(x, cols: cols, eightBit: layout == .quads8)
        for range in [0..<rows, 5..<37, 16..<32, 50..<53] {
            var results = [[Float]]()
            for portable in [false, true] {
                let previous = MatMul.forcePortableIntegerKernels(portable)
                defer { MatMul.forcePortableIntegerKernels(previous) }
                var y = [Float](repeating: .nan, count: tokens * rows)
                bytes.withUnsafeBytes { b in
                    let plain = WeightMatrix(format: format, rows: rows, cols: cols, data: b.baseAddress!)
                    let arena = HugePageArena(byteCount: HugePageArena.byteCount(pieces: [PackedRows16.byteCount(of: plain, layout: layout)]))
                    defer { withExtendedLifetime(arena) {} }
                    let m = plain.packedInto16Rows(layout: layout, pool: ThreadPool.shared(threads: 2), arena: arena)
                    MatMul.matmul(m, rounded.activations, tokens: tokens, &y, ldy: rows, rows: range)
                }
                for t in 0..<tokens {
                    for r in 0..<rows {
                        let v = y[t * rows + r]
                        #expect(range.contains(r) ? !v.isNaN : v.isNaN, "portable=\(portable) range \(range) t=\(t) r=\(r)")
                    }
                }
                results.append(y)
            }
            #expect(zip(results[0], results[1]).allSatisfy { $0.bitPattern == $1.bitPattern }, "range \(range)")
        }
    }

    /// The Q4_1 block minimum m (bytes 2-3 of a block, f16).
    func dequantizedOffset(_ bytes: [UInt8], row: Int, block: Int, rowBytes: Int) -> Float {
        let o = row * rowBytes + block * Q4_1.blockBytes + 2
        return Float(Float16(bitPattern: UInt16(bytes[o]) | UInt16(bytes[o + 1]) << 8))
    }

    /// A test's override holds on its own thread only: models running on other threads (the
    /// pool's, other tests') keep their kernels, so their results do not change in mid-run (the
    /// portable and vector roundings' block sums differ in their last bits).
    @Test func forcingThePortableKernelsStaysOnTheCallingThread() throws {
        let unforced = (MatMul.packedKernelsUseVNNI, MatMul.integerKernelsUseAVX2)
        let previous = MatMul.forcePortableIntegerKernels(true)
        defer { MatMul.forcePortableIntegerKernels(previous) }
        #expect(!MatMul.packedKernelsUseVNNI && !MatMul.integerKernelsUseAVX2)
        let seen = SeenFlags()
        let done = DispatchSemaphore(value: 0)
        Thread { seen.set(MatMul.packedKernelsUseVNNI, MatMul.integerKernelsUseAVX2); done.signal() }.start()
        done.wait()
        #expect(seen.value == unforced)
    }

    @Test func avx2AndVNNIAreUsedOnThisMachineWhenAvailable() throws {
        let cpuinfo = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
        if cpuinfo.contains(" avx2 ") && cpuinfo.contains(" fma ") && cpuinfo.contains(" f16c ") {
            #expect(MatMul.integerKernelsUseAVX2)
        }
        let vnni = [" avx512f ", " avx512bw ", " avx512vl ", " avx512_vnni "].allSatisfy { cpuinfo.contains($0) }
        #expect(PackedRows16.supportedByThisCPU == vnni)
        #expect(MatMul.packedKernelsUseVNNI == vnni)
        if vnni && ProcessInfo.processInfo.environment["AUTODECO_KERNELS"] == nil { #expect(IntegerKernelChoice.current == .vnni) }
    }
}

/// Two flags written by one thread and read by another after a semaphore.
private final class SeenFlags: @unchecked Sendable {
    private(set) var value = (false, false)
    func set(_ a: Bool, _ b: Bool) { value = (a, b) }
}
