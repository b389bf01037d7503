import Testing
import Evaluation

struct PassAtKTests {
    /// Share of the k-subsets of n answers (c correct) holding at least one correct answer, by
    /// enumerating every subset as a bit mask.
    static func bruteForce(n: Int, c: Int, k: Int) -> Double {
        var hits = 0, total = 0
        for mask in 0..<(1 << n) where mask.nonzeroBitCount == k {
            total += 1
            if mask & ((1 << c) - 1) != 0 { hits += 1 }  // answers 0..<c are the correct ones
        }
        return Double(hits) / Double(total)
    }

    @Test func unbiasedEstimatorEqualsEnumeration() {
        for n in 1...10 {
            for c in 0...n {
                for k in 1...n {
                    let e = PassAtK.estimate(samples: n, correct: c, k: k), b = Self.bruteForce(n: n, c: c, k: k)
                    #expect(abs(e - b) < 1e-12, "n \(n) c \(c) k \(k): \(e) vs \(b)")
                }
            }
        }
    }

    @Test func largeCountsStayFinite() {
        // 128 answers (8 seeds x 16), where C(n, k) overflows doubles for k near 64.
        let v = PassAtK.estimate(samples: 128, correct: 3, k: 64)
        #expect(v > 0.87 && v < 0.89)  // 1 - C(125,64)/C(128,64) = 1 - (62/126)(63/127)(64/128) = 0.8780
        #expect(PassAtK.ks(upTo: 128) == [1, 2, 4, 8, 16, 32, 64, 128])
        #expect(PassAtK.ks(upTo: 12) == [1, 2, 4, 8, 12])
    }
}
