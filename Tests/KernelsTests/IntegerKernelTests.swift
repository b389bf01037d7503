import Foundation
import Testing
import Kernels

/// The integer-activation kernels (C, AVX2 and portable) against a float64 computation of the
/// same quantities: dequantized weights times the dequantized int16 activations.
@Suite(.serialized) struct IntegerKernelTests {
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

    @Test(arguments: [(WeightFormat.q4_1, 1), (.q4_1, 3), (.q4_1, 4), (.q4_1, 9), (.q8_0, 1), (.q8_0, 6), (.q8_0, 17)])
    func matmulEqualsFloat64OfTheSameRoundedInputs(format: WeightFormat, tokens: Int) {
        let rows = 37, cols = 160  // rows not a multiple of the 16-row blocks
        let w = (0..<rows).flatMap { KernelTests.randomRow(cols, seed: 500 + $0) }
        let bytes = (0..<rows).flatMap { Quantizer.quantize(Array(w[($0 * cols)..<(($0 + 1) * cols)]), to: format) }
        let x = (0..<tokens).flatMap { KernelTests.randomRow(cols, seed: 900 + $0).map { $0 * 3 } }
        var (q, d, s) = Self.quantized(x, cols: cols)
        // GGUF layout (AVX2 and portable), then 16-row packed (VNNI where the CPU has it, and portable).
        for (packed, portable) in [(false, false), (false, true), (true, false), (true, true)] {
            let previous = MatMul.forcePortableIntegerKernels(portable)
            defer { MatMul.forcePortableIntegerKernels(previous) }
            var y = [Float](repeating: .nan, count: tokens * rows)
            var dequantized = [Float](repeating: 0, count: cols)
            bytes.withUnsafeBytes { b in
                let plain = WeightMatrix(format: format, rows: rows, cols: cols, data: b.baseAddress!)
                let m = packed ? plain.packedInto16Rows(pool: ThreadPool.shared(threads: 2)) : plain
                let a = QuantizedActivations(values: &q, scales: &d, sums: &s, cols: cols)
                MatMul.matmul(m, a, tokens: tokens, &y, ldy: rows, rows: 0..<rows)
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

    /// The packed kernels: VNNI and the portable loop do the same arithmetic lane by lane, so they
    /// must agree to the bit, for any row range (groups split between threads write only their
    /// rows) and any token count (tiles of 8, chunks of 64).
    @Test(arguments: [WeightFormat.q4_1, .q8_0])
    func packedKernelIsBitIdenticalToItsPortableLoopAndWritesOnlyItsRows(format: WeightFormat) throws {
        try #require(PackedRows16.supportedByThisCPU, "no AVX-512 VNNI on this CPU: only the portable packed loop runs")
        let rows = 53, cols = 96, tokens = 70
        let bytes = (0..<rows).flatMap { Quantizer.quantize(KernelTests.randomRow(cols, seed: 40 + $0), to: format) }
        let x = (0..<tokens).flatMap { KernelTests.randomRow(cols, seed: 300 + $0).map { $0 * 2 } }
        var (q, d, s) = Self.quantized(x, cols: cols)
        for range in [0..<rows, 5..<37, 16..<32, 50..<53] {
            var results = [[Float]]()
            for portable in [false, true] {
                let previous = MatMul.forcePortableIntegerKernels(portable)
                defer { MatMul.forcePortableIntegerKernels(previous) }
                var y = [Float](repeating: .nan, count: tokens * rows)
                bytes.withUnsafeBytes { b in
                    let m = WeightMatrix(format: format, rows: rows, cols: cols, data: b.baseAddress!)
                        .packedInto16Rows(pool: ThreadPool.shared(threads: 2))
                    MatMul.matmul(m, QuantizedActivations(values: &q, scales: &d, sums: &s, cols: cols), tokens: tokens,
                                  &y, ldy: rows, rows: range)
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
