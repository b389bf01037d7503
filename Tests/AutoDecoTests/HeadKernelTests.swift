import Foundation
import Testing
import AutoDeco
import ModelFiles

/// The heads' inference layout: bf16 rows through the AVX-512 kernel (or the Swift loop), the
/// bias, the trailing columns and the second layer, against float64 sums of the same weights.
struct HeadKernelTests {
    /// A head whose weights are all exact bf16 values (as in the released checkpoints), so it
    /// takes the packed bf16 path.
    static func bf16Head(inputs: Int, seed: UInt64) -> HeadMLP {
        var g = SeededGenerator(seed: seed)
        func bf16(_ v: Float) -> Float { Float(bitPattern: v.bitPattern & 0xFFFF_0000) }
        let w = (0..<(256 * inputs)).map { _ in bf16(Float(g.nextUnit() * 0.2 - 0.1)) }
        let b = (0..<256).map { _ in bf16(Float(g.nextUnit() * 0.2 - 0.1)) }
        let w2 = (0..<256).map { _ in bf16(Float(g.nextUnit() * 0.2 - 0.1)) }
        return HeadMLP(first: Linear(inputs: inputs, outputs: 256, weight: w, bias: b),
                       second: Linear(inputs: 256, outputs: 1, weight: w2, bias: [0.05]))
    }

    static func reference(_ head: HeadMLP, _ x: [Float], extra: [Float]) -> (pre: [Double], out: Double) {
        let inputs = head.first.inputs, input = x + extra
        var pre = [Double](), z = Double(head.second.bias[0])
        for r in 0..<256 {
            var a = Double(head.first.bias[r])
            for c in 0..<inputs { a += Double(head.first.weight[r * inputs + c]) * Double(input[c]) }
            pre.append(a)
            z += Double(head.second.weight[r]) * max(a, 0)
        }
        return (pre, 1 / (1 + Foundation.exp(-z)))
    }

    // Odd widths (rows start mid-pair in the checkpoint), a width under one block of 32, and the
    // top-p head's 576 + 5.
    @Test(arguments: [(576, 0), (581, 5), (37, 5), (20, 0), (70, 3)])
    func bf16RowsMatchFloat64(inputs: Int, extras: Int) {
        let head = Self.bf16Head(inputs: inputs, seed: UInt64(inputs))
        #expect(head.readsBF16Rows, "exact bf16 weights take the packed path")
        var g = SeededGenerator(seed: 5)
        let count = inputs - extras
        let x = (0..<count).map { _ in Float(g.nextUnit() * 4 - 2) }
        let extra = (0..<extras).map { _ in Float(g.nextUnit()) }
        let ref = Self.reference(head, x, extra: extra)
        var pre = [Float](repeating: .nan, count: 256)
        x.withUnsafeBufferPointer { xb in
            pre.withUnsafeMutableBufferPointer { p in
                // In two row ranges, as two threads call it.
                head.preactivations(xb.baseAddress!, count: count, into: p.baseAddress!, rows: 0..<100)
                head.preactivations(xb.baseAddress!, count: count, into: p.baseAddress!, rows: 100..<256)
            }
        }
        let withExtra = (0..<256).map { r in
            (0..<extras).reduce(Double(pre[r])) { $0 + Double(head.first.weight[r * inputs + count + $1]) * Double(extra[$1]) }
        }
        let worst = zip(withExtra, ref.pre).map { abs($0 - $1) }.max()!
        #expect(worst <= 2e-5, "max |pre - float64| = \(worst)")
        let out = x.withUnsafeBufferPointer { xb in head(xb.baseAddress!, count: count, extra: extra) }
        #expect(abs(Double(out) - ref.out) <= 1e-6, "\(out) vs \(ref.out)")
        let finished = pre.withUnsafeBufferPointer { head.finish($0.baseAddress!, count: count, extra: extra) }
        #expect(finished == out)
    }

    @Test func float32WeightsKeepTheirOwnRows() {
        var g = SeededGenerator(seed: 2)
        let head = HeadMLP(inputs: 64, using: &g)
        #expect(!head.readsBF16Rows)
        let x = (0..<64).map { _ in Float(g.nextUnit() * 2 - 1) }
        let ref = Self.reference(head, x, extra: [])
        let out = x.withUnsafeBufferPointer { head($0.baseAddress!, count: 64) }
        #expect(abs(Double(out) - ref.out) <= 1e-6)
    }
}

struct HugePageArenaTests {
    @Test func piecesAreAlignedDisjointAndZeroed() {
        let sizes = [1, 63, 64, 100, 300_000, 5]
        let arena = HugePageArena(byteCount: HugePageArena.byteCount(pieces: sizes))
        let pieces = sizes.map { arena.allocate(byteCount: $0) }
        for (p, size) in zip(pieces, sizes) {
            #expect(Int(bitPattern: p) % 64 == 0)
            let bytes = p.bindMemory(to: UInt8.self, capacity: size)
            #expect((0..<size).allSatisfy { bytes[$0] == 0 })
            bytes.update(repeating: 0xAB, count: size)
        }
        // Each piece ends before the next begins.
        for i in 1..<pieces.count { #expect(pieces[i] - pieces[i - 1] >= sizes[i - 1]) }
        for (p, size) in zip(pieces, sizes) {
            #expect(UnsafeRawBufferPointer(start: p, count: size).allSatisfy { $0 == 0xAB })
        }
    }
}

/// The heads' 8-bit first layers (`HeadWeightFormat.q8_0`, `HeadQ8Rows`): the integer product
/// (VNNI on packed rows, or AVX2 / portable on GGUF rows) against float64 within the bound that
/// rounding each weight to its block's grid and each input to 16 bits allows, and the shipped
/// heads' T and P against their exact form on the reference hidden states.
struct HeadQ8Tests {
    @Test(arguments: [(576, 0), (581, 5), (64, 0)])
    func q8RowsStayWithinTheirRoundingBound(inputs: Int, extras: Int) {
        var head = HeadKernelTests.bf16Head(inputs: inputs, seed: UInt64(inputs) + 7)
        head.inferenceFormat = .q8_0
        #expect(head.readsQ8Rows && !head.readsBF16Rows)
        var g = SeededGenerator(seed: 11)
        let count = inputs - extras
        let x = (0..<count).map { _ in Float(g.nextUnit() * 4 - 2) }
        let ref = HeadKernelTests.reference(head, x + [Float](repeating: 0, count: extras), extra: [])
        var pre = [Float](repeating: .nan, count: 256)
        x.withUnsafeBufferPointer { xb in
            pre.withUnsafeMutableBufferPointer { p in
                head.preactivations(xb.baseAddress!, count: count, into: p.baseAddress!, rows: 0..<131)
                head.preactivations(xb.baseAddress!, count: count, into: p.baseAddress!, rows: 131..<256)
            }
        }
        var worstExcess = -Double.infinity, squaredError = 0.0, expectedSquaredError = 0.0
        for r in 0..<256 {
            let (bound, expected) = Self.roundingBound(head.first.weight, row: r, stride: inputs, x, floor: 1e-5)
            expectedSquaredError += expected
            let error = Double(pre[r]) - ref.pre[r]
            worstExcess = max(worstExcess, abs(error) - bound)
            squaredError += error * error
        }
        #expect(worstExcess <= 0, "a preactivation is \(worstExcess) beyond its rounding bound")
        // A scale off by 1% would add 6x the rounding's own error here; exact rows would add none.
        let ratio = squaredError / expectedSquaredError
        #expect(ratio > 0.6 && ratio < 1.6, "squared error \(ratio)x what rounding to the grid explains")
    }

    /// How far rounding moves row r's preactivation, at most, and its expected squared error. Each
    /// weight moves by at most half its block's step, absmax / 127 / 2 (the step's f16 rounding
    /// adds at most 2^-11 of it), and each input by half of its block's 16-bit step,
    /// absmax / 32767 / 2; uniformly spread weights move uniformly, so the error's variance is
    /// sum step^2 / 12 x^2.
    static func roundingBound(_ w: [Float], row r: Int, stride: Int, _ x: [Float], floor: Double) -> (bound: Double, expectedSquared: Double) {
        var bound = floor, expected = 0.0
        for b in 0..<(x.count / 32) {
            let block = (32 * b)..<(32 * b + 32)
            let weights = block.map { Double(abs(w[r * stride + $0])) }
            let step = weights.max()! / 127 * (1 + 1.0 / 2048)
            let inputStep = Double(block.map { abs(x[$0]) }.max()!) / 32767
            bound += step / 2 * block.reduce(0) { $0 + abs(Double(x[$1])) }
            bound += inputStep / 2 * weights.reduce(0) { $0 + $1 + step / 2 }
            expected += step * step / 12 * block.reduce(0) { $0 + Double(x[$1] * x[$1]) }
        }
        return (bound, expected)
    }

    /// Blocks of small weights (scales below f16's normal range) keep their precision: each row's
    /// float scale carries the magnitude, so the bound above holds for them too (with f16 scales
    /// alone, subnormal steps 6e-8 apart, they would be off by up to 40%).
    @Test func smallWeightsKeepTheirPrecision() {
        var head = HeadKernelTests.bf16Head(inputs: 64, seed: 5)
        var w = head.first.weight
        for i in w.indices { w[i] *= 1e-4 }  // block scales ~1e-6, subnormal in f16
        head.first = Linear(inputs: 64, outputs: 256, weight: w, bias: [Float](repeating: 0, count: 256))
        head.inferenceFormat = .q8_0
        let x = (0..<64).map { Float(($0 % 7) - 3) / 3 }
        let ref = HeadKernelTests.reference(head, x, extra: [])
        var pre = [Float](repeating: .nan, count: 256)
        x.withUnsafeBufferPointer { xb in
            pre.withUnsafeMutableBufferPointer { head.preactivations(xb.baseAddress!, count: 64, into: $0.baseAddress!, rows: 0..<256) }
        }
        for r in 0..<256 {
            let bound = Self.roundingBound(w, row: r, stride: 64, x, floor: 1e-12).bound
            #expect(abs(Double(pre[r]) - ref.pre[r]) <= bound, "row \(r)")
        }
    }

    @Test func widthsOffTheBlockGridStayExact() {
        var head = HeadKernelTests.bf16Head(inputs: 70, seed: 3)
        head.inferenceFormat = .q8_0
        var g = SeededGenerator(seed: 4)
        let x = (0..<67).map { _ in Float(g.nextUnit() * 2 - 1) }, extra: [Float] = [0.3, 0.2, 0.1]
        let ref = HeadKernelTests.reference(head, x, extra: extra)
        let out = x.withUnsafeBufferPointer { head($0.baseAddress!, count: 67, extra: extra) }
        #expect(abs(Double(out) - ref.out) <= 1e-6)
    }

    @Test func shippedHeadsMoveLessThanTheirBudget() throws {
        let dir = try #require(DefaultHeads.directory, "the shipped heads are missing")
        let exact = try AutoDecoCheckpoint.load(directory: dir)
        var q8 = exact
        q8.inferenceFormat = .q8_0
        #expect(q8.temperatureHead.readsQ8Rows && q8.topPHead.readsQ8Rows)
        let H = exact.hiddenSize
        var worstT: Float = 0, worstP: Float = 0, rows = 0
        for prompt in ["P1", "P2", "P4"] {
            let hidden = try NPY.readFloat32(path: ReferencePaths.llamacpp("\(prompt)_hidden.npy"))
            hidden.values.withUnsafeBufferPointer { all in
                for p in 0..<(all.count / H) {
                    let h = all.baseAddress! + p * H
                    let (t0, t1) = (exact.temperature(hidden: h), q8.temperature(hidden: h))
                    // Typical features; the top-p head's hidden-state columns are what changed.
                    let f = LogitFeatures(maxProb: 0.6, entropy: 1.5, probVariance: 1e-6, top5Sum: 0.9)
                    let (p0, p1) = (exact.topP(hidden: h, temperature: t0, features: f), q8.topP(hidden: h, temperature: t0, features: f))
                    worstT = max(worstT, abs(t1 - t0)); worstP = max(worstP, abs(p1 - p0)); rows += 1
                }
            }
        }
        #expect(rows == 72)
        // Measured 2.1e-3 and 2.3e-4 (the official bf16 stack moves T by up to 2.2e-3, P by 4.2e-4).
        #expect(worstT <= 5e-3, "max |T_q8 - T| = \(worstT)")
        #expect(worstP <= 1e-3, "max |P_q8 - P| = \(worstP)")
        #expect(worstT > 0, "the 8-bit rows are in use")
    }
}

/// The shared reference data beside the repository.
enum ReferencePaths {
    static let reference = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().deletingLastPathComponent().appendingPathComponent("shared/reference/smollm2-135m-instruct-q4_1")
    static func llamacpp(_ f: String) -> String { reference.appendingPathComponent("llamacpp/\(f)").path }
}
