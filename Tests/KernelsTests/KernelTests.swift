import Foundation
import Testing
import Kernels

struct KernelTests {
    static func randomRow(_ n: Int, seed: Int) -> [Float] {
        var s = UInt64(seed) &* 0x9E37_79B9_7F4A_7C15 | 1
        return (0..<n).map { _ in
            s ^= s << 13; s ^= s >> 7; s ^= s << 17
            return Float(Int64(bitPattern: s) % 2000) / 1000
        }
    }

    static let formats: [WeightFormat] = [.f32, .f16, .bf16, .q8_0, .q4_0, .q4_1]

    /// Max error of quantize -> dequantize per format, relative to the row's max magnitude.
    @Test(arguments: formats)
    func quantizationRoundTrip(format: WeightFormat) {
        let x = Self.randomRow(256, seed: 3)
        let bytes = Quantizer.quantize(x, to: format)
        #expect(bytes.count == format.rowBytes(256))
        var y = [Float](repeating: .nan, count: 256)
        bytes.withUnsafeBytes { b in
            WeightMatrix(format: format, rows: 1, cols: 256, data: b.baseAddress!).dequantizeRow(0, into: &y)
        }
        // Error bounds from each format's step size (per 32-block at most the row's), plus the
        // rounding of the fp16 scale (and min) when they are stored.
        let a = x.map { abs($0) }.max() ?? 0, range = (x.max() ?? 0) - (x.min() ?? 0)
        let bound: Float
        switch format {
        case .f32: bound = 0
        case .f16: bound = a * 1e-3
        case .bf16: bound = a * 4e-3
        case .q8_0: bound = a / 127 / 2 + a * 1e-3
        case .q4_0: bound = a / 8 + a * 1e-3          // the top code clamps: -max lands one step short
        case .q4_1: bound = range / 15 / 2 + a * 2e-3
        }
        let err = zip(x, y).map { abs($0 - $1) }.max() ?? .infinity
        #expect(err <= bound, "\(format): max error \(err), bound \(bound)")
    }

    /// The fused decode dot product equals dequantize-then-dot (float64 reference).
    @Test(arguments: formats)
    func fusedDotMatchesDequantizedDot(format: WeightFormat) {
        let rows = 7, cols = 160
        let w = (0..<rows).flatMap { Self.randomRow(cols, seed: 10 + $0) }
        let bytes = (0..<rows).flatMap { Quantizer.quantize(Array(w[($0 * cols)..<(($0 + 1) * cols)]), to: format) }
        let x = Self.randomRow(cols, seed: 99)
        var sums = [Float](repeating: 0, count: cols / 32)
        blockSums(x, cols: cols, into: &sums)
        bytes.withUnsafeBytes { b in
            let m = WeightMatrix(format: format, rows: rows, cols: cols, data: b.baseAddress!)
            var deq = [Float](repeating: 0, count: cols)
            for r in 0..<rows {
                m.dequantizeRow(r, into: &deq)
                let ref = zip(deq, x).reduce(0.0) { $0 + Double($1.0) * Double($1.1) }
                let got = m.dot(row: r, x, blockSums: sums)
                #expect(abs(Double(got) - ref) < 1e-3, "\(format) row \(r): \(got) vs \(ref)")
            }
        }
    }

    /// The tiled prompt matmul equals the decode matvec for every token and row count.
    @Test(arguments: [1, 2, 3, 4, 5, 7, 50, 97])
    func matmulMatchesMatvec(tokens: Int) {
        let rows = 13, cols = 96
        let w = (0..<rows).flatMap { Self.randomRow(cols, seed: 200 + $0) }
        let bytes = (0..<rows).flatMap { Quantizer.quantize(Array(w[($0 * cols)..<(($0 + 1) * cols)]), to: .q4_1) }
        let x = (0..<tokens).flatMap { Self.randomRow(cols, seed: 300 + $0) }
        var y = [Float](repeating: .nan, count: tokens * rows)
        var panel = [Float](repeating: 0, count: 4 * cols)
        bytes.withUnsafeBytes { b in
            let m = WeightMatrix(format: .q4_1, rows: rows, cols: cols, data: b.baseAddress!)
            MatMul.matmul(m, x, tokens: tokens, &y, ldy: rows, rows: 0..<rows, panel: &panel)
            var sums = [Float](repeating: 0, count: cols / 32), one = [Float](repeating: 0, count: rows)
            for t in 0..<tokens {
                let xt = Array(x[(t * cols)..<((t + 1) * cols)])
                blockSums(xt, cols: cols, into: &sums)
                MatMul.matvec(m, xt, sums, &one, rows: 0..<rows)
                for r in 0..<rows { #expect(abs(one[r] - y[t * rows + r]) < 1e-4) }
            }
        }
    }

    @Test func ropeRotatesPairsAndKeepsNorm() {
        let rope = Rope(dims: 8, base: 10000, style: .adjacentPairs)
        var cs = [Float](repeating: 0, count: 8)
        rope.table(position: 3, into: &cs)
        var v: [Float] = [1, 0, 0, 1, 2, 2, -1, 3]
        let norm0 = v.reduce(0) { $0 + $1 * $1 }
        rope.apply(&v, heads: 1, headDim: 8, table: cs)
        #expect(abs(v[0] - cos(3)) < 1e-6 && abs(v[1] - sin(3)) < 1e-6)  // pair 0 rotates by 3 rad
        #expect(abs(v.reduce(0) { $0 + $1 * $1 } - norm0) < 1e-4)
        let half = Rope(dims: 8, base: 10000, style: .splitHalf)
        var u: [Float] = [1, 0, 0, 0, 0, 0, 0, 0]
        half.apply(&u, heads: 1, headDim: 8, table: cs)
        #expect(abs(u[0] - cos(3)) < 1e-6 && abs(u[4] - sin(3)) < 1e-6)  // pairs (i, i + d/2)
    }

    @Test func softmaxAndRMSNorm() {
        var x: [Float] = [1, 2, 3, -1000]
        VectorOps.softmax(&x, n: 4)
        let e = [exp(1.0), exp(2.0), exp(3.0)]
        let z = e.reduce(0, +)
        for i in 0..<3 { #expect(abs(Double(x[i]) - e[i] / z) < 1e-6) }
        #expect(x[3] == 0)
        let v: [Float] = [3, 4], w: [Float] = [1, 2]
        var out = [Float](repeating: 0, count: 2)
        VectorOps.rmsNorm(v, w, &out, n: 2, eps: 0)
        let r = Float((12.5).squareRoot())
        #expect(abs(out[0] - 3 / r) < 1e-6 && abs(out[1] - 8 / r) < 1e-6)
    }

    /// The SIMD softmax and SwiGLU against float64, over lengths with SIMD tails, extreme inputs
    /// (SiLU of -200 and 200, a -1000 logit) included.
    @Test(arguments: [5, 8, 21, 64, 1536])
    func simdSoftmaxAndSwiGLUMatchFloat64(n: Int) {
        var x = KernelTests.randomRow(n, seed: n).map { $0 * 6 }
        x[0] = -1000
        let m = Double(x.max()!), e = x.map { exp(Double($0) - m) }, z = e.reduce(0, +)
        var y = x
        VectorOps.softmax(&y, n: n)
        for i in 0..<n { #expect(abs(Double(y[i]) - e[i] / z) <= 1e-6, "softmax n \(n) i \(i)") }
        var gate = KernelTests.randomRow(n, seed: 2 * n).map { $0 * 10 }
        gate[0] = -200; gate[n - 1] = 200; gate[1] = 0
        let up = KernelTests.randomRow(n, seed: 3 * n)
        let expected = (0..<n).map { Double(gate[$0]) / (1 + exp(-Double(gate[$0]))) * Double(up[$0]) }
        VectorOps.swiglu(&gate, up, n: n)
        for i in 0..<n {
            #expect(abs(Double(gate[i]) - expected[i]) <= 1e-6 * max(1, abs(expected[i])), "swiglu n \(n) i \(i): \(gate[i]) vs \(expected[i])")
        }
    }

    /// Grouped attention against float64, for head sizes with and without the 32- and 8-wide
    /// column loops' remainders (64 and 128 take the AVX-512 chunk where the CPU has it, whose
    /// weighted sum runs heads in sets of three: groups of 2 and 7 leave sets of 2 and 1); a group
    /// computed together gives each head computed alone, to the bit.
    @Test(arguments: [(64, 1, 3), (64, 37, 3), (128, 300, 3), (40, 9, 3), (7, 5, 3), (64, 128, 3), (64, 129, 3), (24, 1000, 3),
                      (64, 33, 2), (64, 200, 7), (128, 17, 2)])
    func groupedAttentionMatchesFloat64AndSingleHeads(headDim d: Int, length: Int, heads g: Int) {
        let scale = 1 / Float(d).squareRoot()
        let q = Self.randomRow(g * d, seed: d + length), k = Self.randomRow(length * d, seed: 7), v = Self.randomRow(length * d, seed: 8)
        var scores = [Float](repeating: 0, count: Attention.scratchCount(heads: g, headDim: d))
        var together = [Float](repeating: .nan, count: g * d), alone = [Float](repeating: .nan, count: g * d)
        Attention.attend(queries: q, heads: g, keys: k, values: v, stride: d, length: length, headDim: d, scale: scale,
                         scratch: &scores, out: &together)
        for j in 0..<g {
            alone.withUnsafeMutableBufferPointer { o in
                q.withUnsafeBufferPointer { qp in
                    Attention.attend(queries: qp.baseAddress! + j * d, heads: 1, keys: k, values: v, stride: d, length: length,
                                     headDim: d, scale: scale, scratch: &scores, out: o.baseAddress! + j * d)
                }
            }
        }
        #expect(together == alone)
        for j in 0..<g {
            let s = (0..<length).map { p in (0..<d).reduce(0.0) { $0 + Double(q[j * d + $1]) * Double(k[p * d + $1]) } * Double(scale) }
            let m = s.max()!, e = s.map { exp($0 - m) }, z = e.reduce(0, +)
            for c in 0..<d {
                let exact = (0..<length).reduce(0.0) { $0 + e[$1] / z * Double(v[$1 * d + c]) }
                #expect(abs(Double(together[j * d + c]) - exact) < 1e-5, "head \(j) column \(c)")
            }
        }
    }

    /// The chunks of a long row computed as separate tasks (in any order, as threads run them)
    /// and then combined give the bits of `attend`, which runs them one after the other; for
    /// float32 and float16 rows, grouped and head by head.
    @Test(arguments: [1, 128, 129, 300, 1000])
    func chunksCombinedGiveTheBitsOfOneCall(length: Int) {
        let g = 3, d = 64, scale = 1 / Float(d).squareRoot(), ps = Attention.partStride(headDim: d)
        let q = Self.randomRow(g * d, seed: length)
        let k32 = Self.randomRow(length * d, seed: 11).map { $0 * 4 }, v32 = Self.randomRow(length * d, seed: 12)
        let k16 = k32.map { Float16($0) }, v16 = v32.map { Float16($0) }
        let chunks = Attention.chunks(length: length)
        #expect(chunks == (length + 127) / 128)
        var scratch = [Float](repeating: 0, count: Attention.scratchCount(heads: g, headDim: d))
        for heads in [g, 1] {
            for half in [false, true] {
                var whole = [Float](repeating: .nan, count: g * d), combined = [Float](repeating: .nan, count: g * d)
                var parts = [Float](repeating: .nan, count: chunks * g * ps)  // [chunk][head][partStride]
                for j in stride(from: 0, to: g, by: heads) {
                    q.withUnsafeBufferPointer { qp in
                        whole.withUnsafeMutableBufferPointer { o in
                            if half {
                                Attention.attend(queries: qp.baseAddress! + j * d, heads: heads, keys: k16, values: v16, stride: d,
                                                 length: length, headDim: d, scale: scale, scratch: &scratch, out: o.baseAddress! + j * d)
                            } else {
                                Attention.attend(queries: qp.baseAddress! + j * d, heads: heads, keys: k32, values: v32, stride: d,
                                                 length: length, headDim: d, scale: scale, scratch: &scratch, out: o.baseAddress! + j * d)
                            }
                        }
                        parts.withUnsafeMutableBufferPointer { pp in
                            for c in (0..<chunks).reversed() {  // an order a thread schedule could take
                                let part = pp.baseAddress! + (c * g + j) * ps
                                if half {
                                    Attention.attendChunk(c, queries: qp.baseAddress! + j * d, heads: heads, keys: k16, values: v16, stride: d,
                                                          length: length, headDim: d, scale: scale, scores: &scratch, part: part)
                                } else {
                                    Attention.attendChunk(c, queries: qp.baseAddress! + j * d, heads: heads, keys: k32, values: v32, stride: d,
                                                          length: length, headDim: d, scale: scale, scores: &scratch, part: part)
                                }
                            }
                        }
                    }
                }
                parts.withUnsafeMutableBufferPointer { pp in
                    combined.withUnsafeMutableBufferPointer { o in
                        for j in 0..<g {
                            Attention.combine(parts: pp.baseAddress! + j * ps, spacing: g * ps, count: chunks, headDim: d, out: o.baseAddress! + j * d)
                        }
                    }
                }
                #expect(whole.map(\.bitPattern) == combined.map(\.bitPattern), "\(heads) heads per call, float16 \(half)")
                #expect(!whole.contains { $0.isNaN })
            }
        }
    }

    /// Over a float16 cache, attention widens each row exactly and then does the float32 arithmetic:
    /// the same bits as over float32 rows holding the rounded values, grouped or head by head.
    @Test(arguments: [(64, 1), (64, 37), (128, 300), (40, 9), (7, 5)])
    func float16CacheRowsGiveTheFloat32ResultOfTheirValues(headDim d: Int, length: Int) {
        let g = 3, scale = 1 / Float(d).squareRoot()
        let q = Self.randomRow(g * d, seed: d + length)
        let k16 = Self.randomRow(length * d, seed: 9).map { Float16($0 * 3) }, v16 = Self.randomRow(length * d, seed: 10).map { Float16($0) }
        let k32 = k16.map { Float($0) }, v32 = v16.map { Float($0) }
        var scores = [Float](repeating: 0, count: Attention.scratchCount(heads: g, headDim: d))
        for heads in [g, 1] {
            var half = [Float](repeating: .nan, count: g * d), single = [Float](repeating: .nan, count: g * d)
            for j in stride(from: 0, to: g, by: heads) {
                q.withUnsafeBufferPointer { qp in
                    half.withUnsafeMutableBufferPointer { o in
                        Attention.attend(queries: qp.baseAddress! + j * d, heads: heads, keys: k16, values: v16, stride: d, length: length,
                                         headDim: d, scale: scale, scratch: &scores, out: o.baseAddress! + j * d)
                    }
                    single.withUnsafeMutableBufferPointer { o in
                        Attention.attend(queries: qp.baseAddress! + j * d, heads: heads, keys: k32, values: v32, stride: d, length: length,
                                         headDim: d, scale: scale, scratch: &scores, out: o.baseAddress! + j * d)
                    }
                }
            }
            #expect(half == single, "\(heads) heads per call")
        }
    }

    /// Rounding a float32 row to float16 (the KV cache's writes): to nearest, as Float16(x) does,
    /// through the 8-wide conversion and the scalar tail.
    @Test func float16StoresRoundToNearest() {
        let x = Self.randomRow(21, seed: 11).map { $0 * 1000 } + [65504, -0.0, 1e-8, 70000]
        var out = [Float16](repeating: 0, count: x.count)
        out.withUnsafeMutableBufferPointer { Float16.store(x, into: $0.baseAddress!, count: x.count) }
        for (a, b) in zip(out, x) { #expect(a.bitPattern == Float16(b).bitPattern, "\(b)") }
    }

    @Test func threadPoolRunsEveryIndexOnceAndManyTimes() {
        let pool = ThreadPool.shared(threads: 2)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 2)
        counts.initialize(repeating: 0, count: 2)
        defer { counts.deallocate() }
        for _ in 0..<20_000 { pool.run { counts[$0] += 1 } }
        #expect(counts[0] == 20_000 && counts[1] == 20_000)
        var covered = [Int](repeating: 0, count: 1001)
        covered.withUnsafeMutableBufferPointer { c in
            pool.parallelFor(1001) { r in for i in r { c[i] += 1 } }
        }
        #expect(covered.allSatisfy { $0 == 1 })
    }

    /// A value-typed region runs every part once, part k on pool thread k (the caller is part 0,
    /// the worker another thread), reads its fields as the caller set them, and alternates with
    /// closure regions; inline, the same parts run on the caller.
    @Test func valueRegionsRunEveryPartOnItsThread() {
        struct Tally: ParallelWork {
            let counts: UnsafeMutablePointer<Int>, threads: UnsafeMutablePointer<pthread_t>, step: Int
            func run(part: Int) { counts[part] += step; threads[part] = pthread_self() }
        }
        let pool = ThreadPool.shared(threads: 2)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 2), threads = UnsafeMutablePointer<pthread_t>.allocate(capacity: 2)
        counts.initialize(repeating: 0, count: 2)
        defer { counts.deallocate(); threads.deallocate() }
        for i in 0..<20_000 {
            pool.run(Tally(counts: counts, threads: threads, step: i % 3))
            if i % 100 == 0 { pool.run { counts[$0] += 1 } }
        }
        let expected = (0..<20_000).reduce(0) { $0 + $1 % 3 } + 200
        #expect(counts[0] == expected && counts[1] == expected)
        #expect(pthread_equal(threads[0], pthread_self()) != 0 && pthread_equal(threads[1], pthread_self()) == 0)
        pool.run(inline: true, Tally(counts: counts, threads: threads, step: 1))
        #expect(counts[0] == expected + 1 && counts[1] == expected + 1)
        #expect(pthread_equal(threads[1], pthread_self()) != 0, "inline parts run on the caller")
    }

    /// More threads than this machine has cores (the waits then yield their core): every part of
    /// every region still runs once, closure and value regions alike.
    @Test func aPoolLargerThanTheMachineRunsEveryPart() {
        struct Bump: ParallelWork {
            let counts: UnsafeMutablePointer<Int>
            func run(part: Int) { counts[part * 8] += 1 }
        }
        let threads = ProcessInfo.processInfo.activeProcessorCount + 2
        let pool = ThreadPool.shared(threads: threads)
        let counts = UnsafeMutablePointer<Int>.allocate(capacity: 8 * threads)
        counts.initialize(repeating: 0, count: 8 * threads)
        defer { counts.deallocate() }
        for i in 0..<3_000 {
            if i % 2 == 0 { pool.run(Bump(counts: counts)) } else { pool.run { counts[$0 * 8] += 1 } }
        }
        #expect((0..<threads).allSatisfy { counts[$0 * 8] == 3_000 })
    }

    /// The parts tile 0..<count in order, and every cut but the end is a multiple of the unit.
    @Test func partsTileTheRangeOnMultiplesOfTheUnit() {
        for count in [0, 1, 15, 16, 17, 100, 1003, 49152] { for parts in 1...5 { for unit in [1, 16] {
            var next = 0
            for k in 0..<parts {
                let r = ThreadPool.part(k, of: parts, count: count, unit: unit)
                #expect(r.lowerBound == next && r.lowerBound % unit == 0, "count \(count) parts \(parts) unit \(unit) k \(k)")
                next = r.upperBound
            }
            #expect(next == count)
        } } }
    }
}

struct ExpTests {
    @Test func simdExpMatchesLibmAndZeroesUnderflow() {
        var worst: Float = 0
        var x: Float = -87
        while x < 88 {
            let v = expSIMD(SIMD8(repeating: x))[0]
            let ref = Float(Foundation.exp(Double(x)))
            worst = max(worst, abs(v - ref) / ref)
            x += 0.0137
        }
        #expect(worst < 5e-7, "max relative error \(worst)")
        #expect(expSIMD(SIMD8(repeating: -.infinity))[0] == 0)
        #expect(expSIMD(SIMD8(repeating: -100))[0] == 0)
        #expect(expSIMD(SIMD8(repeating: -1e30))[0] == 0)
        #expect(expSIMD(SIMD8(repeating: 0))[0] == 1)
    }

    @Test func sumAndSearchOfExpAgreeWithScalarCode() {
        let xs = (0..<1003).map { Float(($0 * 37) % 101) / 10 - 5 }
        let ref = xs.reduce(0.0) { $0 + Foundation.exp(Double($1 - 2) * 0.5) }
        xs.withUnsafeBufferPointer { b in
            let s = VectorOps.sumExp(b.baseAddress!, n: b.count, shift: 2, scale: 0.5)
            #expect(abs(Double(s) - ref) / ref < 1e-5)
            var cum = 0.0
            let target = ref * 0.6
            let expected = xs.indices.first { cum += Foundation.exp(Double(xs[$0] - 2) * 0.5); return cum > target }!
            #expect(VectorOps.searchCumulativeExp(b.baseAddress!, n: b.count, shift: 2, scale: 0.5, target: Float(target)) == expected)
        }
    }

    /// The index where the running sum first exceeds the target, for targets in every part of a
    /// vocabulary-sized array (zeros included; targets on block edges), against float64 sums:
    /// exact wherever the target is not within rounding of a boundary.
    @Test func searchCumulativeFindsTheFirstIndexPastTheTarget() {
        var g = SeededGenerator(seed: 21)
        let n = 49_157
        let w = (0..<n).map { i in i % 7 == 3 ? 0 : Float(g.nextUnit()) * (i % 1000 == 0 ? 50 : 1) }
        var prefix = [Double](repeating: 0, count: n + 1)
        for i in 0..<n { prefix[i + 1] = prefix[i] + Double(w[i]) }
        let total = prefix[n], tol = 1e-5 * total
        var targets = (0..<400).map { _ in g.nextUnit() * total }
        targets += [0, prefix[256], prefix[512] - 1e-3, prefix[n - 3], total * 2]
        w.withUnsafeBufferPointer { b in
            for target in targets {
                let i = VectorOps.searchCumulative(b.baseAddress!, n: n, target: Float(target))
                if target >= total { #expect(i == n - 1); continue }
                // prefix[i] <= target < prefix[i + 1], up to float rounding of the running sum.
                #expect(prefix[i] <= target + tol && prefix[i + 1] > target - tol, "target \(target): index \(i)")
            }
        }
    }
}

struct LogTests {
    @Test func simdLogMatchesLibm() {
        var worst: Float = 0
        var x: Float = 1e-30
        while x < 1e30 {
            let v = logSIMD(SIMD8(repeating: x))[0]
            let ref = Float(Foundation.log(Double(x)))
            worst = max(worst, abs(v - ref) / max(abs(ref), 1))
            x *= 1.0173
        }
        #expect(worst < 3e-7, "max error \(worst)")
        #expect(logSIMD(SIMD8(repeating: 1))[0] == 0)
    }
}

struct Top5Tests {
    @Test func findsTheFiveLargestAnywhere() {
        var g = SeededGenerator(seed: 5)
        for n in [1, 3, 5, 63, 64, 65, 1000, 49152] {
            let x = (0..<n).map { _ in Float(g.next() % 100_000) / 7 - 5000 }
            let ref = Array(x.sorted(by: >).prefix(5)) + Array(repeating: -Float.infinity, count: max(0, 5 - n))
            #expect(x.withUnsafeBufferPointer { VectorOps.top5($0.baseAddress!, n: n) }.values == ref, "n = \(n)")
            // Split in two parts (as the heads split the vocabulary between threads), then merged.
            let cut = n / 3
            var merged = x.withUnsafeBufferPointer { VectorOps.top5($0.baseAddress!, n: cut) }
            merged.merge(x.withUnsafeBufferPointer { VectorOps.top5($0.baseAddress! + cut, n: n - cut) })
            #expect(merged.values == ref, "n = \(n), merged")
        }
        // All five in one block, and ties.
        var y = [Float](repeating: 0, count: 640)
        for i in 130..<135 { y[i] = Float(i) }
        y[600] = 134
        #expect(y.withUnsafeBufferPointer { VectorOps.top5($0.baseAddress!, n: 640) }.values == [134, 134, 133, 132, 131])
        // Increasing values: every block beats the running fifth, so every block takes the slow path.
        let rising = (0..<1000).map(Float.init)
        #expect(rising.withUnsafeBufferPointer { VectorOps.top5($0.baseAddress!, n: 1000) }.values == [999, 998, 997, 996, 995])
    }
}

struct RadixSortTests {
    /// The radix order equals a stable comparison sort (descending, ties by index), on values with
    /// many ties, negatives, huge and tiny magnitudes and infinities.
    @Test(arguments: [1, 2, 100, 4097, 49152])
    func equalsStableComparisonSort(n: Int) {
        var g = SeededGenerator(seed: UInt64(n))
        let pool: [Float] = [0, 1, -1, 3.5, -3.5, 1e-30, -1e-30, 1e30, .infinity, -.infinity]
        let values: [Float] = (0..<n).map { i in
            i % 3 == 0 ? pool[Int(g.next() % UInt64(pool.count))] : Float(g.nextUnit() * 40 - 20)
        }
        var order = [Int32](repeating: 0, count: n), scratch = order, keys = [UInt32](repeating: 0, count: 2 * n)
        RadixSort.descending(values, count: n, order: &order, scratch: &scratch, keys: &keys)
        let expected = values.indices.sorted { values[$0] > values[$1] || (values[$0] == values[$1] && $0 < $1) }
        #expect(order.map(Int.init) == expected)
    }
}

/// The scans behind the sampler's top-p: against brute force, with ties and odd lengths.
struct SamplerScanTests {
    static func weights(_ n: Int, seed: Int) -> [Float] {
        // Coarse values (multiples of 1/8) so ties are common.
        KernelTests.randomRow(n, seed: seed).map { ($0 * 4).rounded() / 8 + 1 }
    }

    @Test(arguments: [1, 15, 16, 17, 100, 1003])
    func indicesAtLeastAFloorAreTheBruteForceOnes(n: Int) {
        let w = Self.weights(n, seed: n)
        for floor in [Float(0.5), 1.0, 1.25, 2.0, 9] {
            var out = [Int32](repeating: -1, count: n)
            let count = VectorOps.indices(of: w, n: n, atLeast: floor, into: &out)
            #expect(Array(out.prefix(count)) == w.indices.filter { w[$0] >= floor }.map { Int32($0) }, "n \(n) floor \(floor)")
        }
    }

    @Test(arguments: [1, 15, 16, 17, 100, 1003])
    func massRankedBeforeFollowsTheDescendingOrderWithTiesToTheLowerIndex(n: Int) {
        let w = Self.weights(n, seed: 7 * n)
        let order = w.indices.sorted { w[$0] > w[$1] || (w[$0] == w[$1] && $0 < $1) }
        var before = 0.0
        for x in order {
            let got = VectorOps.massRankedBefore(w, n: n, index: x)
            #expect(abs(Double(got) - before) <= 1e-5 * max(1, before), "n \(n) index \(x): \(got) vs \(before)")
            before += Double(w[x])
        }
    }
}

/// The passes over the vocabulary behind the AutoDeco features: the AVX-512 versions (used
/// when the CPU has it) and the Swift ones, each against float64, at lengths with every tail.
struct VocabularyPassTests {
    static let lengths = [1, 15, 16, 17, 31, 32, 33, 1003]

    static func logits(_ n: Int) -> [Float] {
        var g = SeededGenerator(seed: UInt64(n))
        return (0..<n).map { i in i % 97 == 5 ? -.infinity : Float(g.nextUnit() * 40 - 30) }
    }

    @Test func avx512RunsWhereTheCPUHasIt() {
        #expect(VectorOps.passesUseAVX512 == (VectorOps.cpuHasAVX512F && (IntegerKernelChoice.requested ?? .vnni) == .vnni))
    }

    @Test(arguments: lengths)
    func storeExpMatchesFloat64AndZeroesUnderflow(n: Int) {
        // Scale 3 spreads the arguments over [-90, 30]: below -87 they must give exactly 0.
        let x = Self.logits(n), shift: Float = 0, scale: Float = 3
        for portable in [false, true] {
            var out = [Float](repeating: .nan, count: n)
            let sum = x.withUnsafeBufferPointer { b in
                out.withUnsafeMutableBufferPointer { o in
                    portable ? VectorOps.storeExpPortable(b.baseAddress!, n: n, shift: shift, scale: scale, into: o.baseAddress!)
                             : VectorOps.storeExp(b.baseAddress!, n: n, shift: shift, scale: scale, into: o.baseAddress!)
                }
            }
            var refSum = 0.0
            for i in 0..<n {
                let arg = (x[i] - shift) * scale
                if arg < -87 { #expect(out[i] == 0, "n \(n) i \(i) arg \(arg)"); continue }
                let ref = Foundation.exp(Double(arg))
                refSum += ref
                #expect(abs(Double(out[i]) - ref) <= 5e-7 * ref, "n \(n) i \(i): \(out[i]) vs \(ref)")
            }
            #expect(abs(Double(sum) - refSum) <= 1e-6 * refSum, "n \(n) portable \(portable)")
            // In place, as softmax calls it.
            var inPlace = x
            _ = inPlace.withUnsafeMutableBufferPointer { b in
                portable ? VectorOps.storeExpPortable(b.baseAddress!, n: n, shift: shift, scale: scale, into: b.baseAddress!)
                         : VectorOps.storeExp(b.baseAddress!, n: n, shift: shift, scale: scale, into: b.baseAddress!)
            }
            #expect(inPlace == out)
        }
    }

    /// The one-pass form for a known maximum: the same exponentials and sum, to the bit, and the
    /// top-5 scan's five values, in place too; NaN never counts (as in the scan).
    @Test(arguments: lengths)
    func storeExpAndTop5EqualsBothPasses(n: Int) {
        var x = Self.logits(n)
        if n > 40 { x[37] = .nan }
        let shift = x.filter { !$0.isNaN }.max() ?? 0, scale: Float = 1 / 0.7
        var out = [Float](repeating: .nan, count: n), both = out
        let (sum, top) = x.withUnsafeBufferPointer { b in
            out.withUnsafeMutableBufferPointer { VectorOps.storeExpAndTop5(b.baseAddress!, n: n, shift: shift, scale: scale, into: $0.baseAddress!) }
        }
        let (sumRef, topRef) = x.withUnsafeBufferPointer { b in
            both.withUnsafeMutableBufferPointer {
                (VectorOps.storeExp(b.baseAddress!, n: n, shift: shift, scale: scale, into: $0.baseAddress!), VectorOps.top5(b.baseAddress!, n: n))
            }
        }
        #expect(sum.bitPattern == sumRef.bitPattern || (sum.isNaN && sumRef.isNaN))
        #expect(zip(out, both).allSatisfy { $0.bitPattern == $1.bitPattern }, "n \(n)")
        #expect(top == topRef, "n \(n): \(top.values) vs \(topRef.values)")
        var inPlace = x
        let (_, topInPlace) = inPlace.withUnsafeMutableBufferPointer { b in
            VectorOps.storeExpAndTop5(b.baseAddress!, n: n, shift: shift, scale: scale, into: b.baseAddress!)
        }
        #expect(topInPlace == topRef && zip(inPlace, both).allSatisfy { $0.bitPattern == $1.bitPattern })
    }

    @Test(arguments: lengths)
    func probabilityMomentsMatchFloat64(n: Int) {
        let e = Self.logits(n).map { Float(Foundation.exp(Double($0) / 3)) }
        let z = e.reduce(0.0) { $0 + Double($1) }, mean = 1 / Double(n), eps = 1e-8
        var refSq = 0.0, refEnt = 0.0
        for v in e {
            let q = Double(Float(Double(v) / z))
            refSq += (q - mean) * (q - mean)
            refEnt += q * Foundation.log(q + eps)
        }
        for portable in [false, true] {
            let got = e.withUnsafeBufferPointer { b in
                portable ? VectorOps.probabilityMomentsPortable(b.baseAddress!, n: n, invZ: Float(1 / z), mean: Float(mean), eps: Float(eps))
                         : VectorOps.probabilityMoments(b.baseAddress!, n: n, invZ: Float(1 / z), mean: Float(mean), eps: Float(eps))
            }
            #expect(abs(Double(got.sumSquaredDeviation) - refSq) <= 1e-5 * refSq + 1e-12, "n \(n) portable \(portable)")
            #expect(abs(Double(got.sumQLogQ) - refEnt) <= 1e-5 * abs(refEnt) + 1e-7, "n \(n) portable \(portable)")
        }
    }
}
