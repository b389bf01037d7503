import Foundation
import Testing
import AutoDeco

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
