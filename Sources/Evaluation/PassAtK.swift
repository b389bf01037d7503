import Foundation

/// The unbiased pass@k estimator (Chen et al. 2021): with n samples of which c are correct, the
/// probability that k drawn without replacement contain a correct one, 1 - C(n-c, k) / C(n, k),
/// computed as a product (no factorials, exact in double precision for any n).
public enum PassAtK {
    public static func estimate(samples n: Int, correct c: Int, k: Int) -> Double {
        precondition(n >= 1 && c >= 0 && c <= n && k >= 1 && k <= n, "pass@k needs 0 <= c <= n and 1 <= k <= n")
        if c == 0 { return 0 }
        if n - c < k { return 1 }
        // C(n-c, k) / C(n, k) = prod_{i = n-c+1}^{n} (1 - k / i)
        var ratio = 1.0
        for i in (n - c + 1)...n { ratio *= 1 - Double(k) / Double(i) }
        return 1 - ratio
    }

    /// k = 1, 2, 4, ... up to n (and n itself).
    public static func ks(upTo n: Int) -> [Int] {
        var out = [Int](), k = 1
        while k < n { out.append(k); k *= 2 }
        if n >= 1 { out.append(n) }
        return out
    }
}
