/// Exact descending order of float values in O(n): a stable least-significant-digit radix sort
/// (three passes of 11 bits) on keys that order like the floats, so equal values keep index
/// order. Used by the soft top-p loss, which needs the full vocabulary in probability order for
/// every training position (a comparison sort of 49k entries costs 10-20x more).
public enum RadixSort {
    /// Writes into `order` the indices 0..<n sorted by values[i] descending (ties: lower index first).
    /// `scratch` holds n Int32 and `keys` 2n UInt32.
    public static func descending(_ values: UnsafePointer<Float>, count n: Int, order: UnsafeMutablePointer<Int32>,
                                  scratch: UnsafeMutablePointer<Int32>, keys: UnsafeMutablePointer<UInt32>) {
        // Ascending order of ~monotone(v) is descending order of v.
        let k0 = keys, k1 = keys + n
        for i in 0..<n {
            let b = values[i].bitPattern
            let monotone = b & 0x8000_0000 != 0 ? ~b : b | 0x8000_0000
            k0[i] = ~monotone
            order[i] = Int32(i)
        }
        var srcKeys = k0, dstKeys = k1, src = order, dst = scratch
        var counts = [Int](repeating: 0, count: 2048)
        for shift in stride(from: 0, to: 33, by: 11) {
            for i in counts.indices { counts[i] = 0 }
            for i in 0..<n { counts[Int((srcKeys[i] >> UInt32(shift)) & 2047)] += 1 }
            var total = 0
            for i in counts.indices { let c = counts[i]; counts[i] = total; total += c }
            for i in 0..<n {
                let d = Int((srcKeys[i] >> UInt32(shift)) & 2047)
                let at = counts[d]; counts[d] = at + 1
                dstKeys[at] = srcKeys[i]; dst[at] = src[i]
            }
            swap(&srcKeys, &dstKeys); swap(&src, &dst)
        }
        // Three passes: the result is in `scratch`.
        if src != order { order.update(from: src, count: n) }
    }
}
