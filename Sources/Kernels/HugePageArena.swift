#if canImport(Glibc)
import Glibc
#endif

/// One anonymous mapping for arrays that are streamed from memory every token (the repacked
/// weights, the AutoDeco heads' first layers), marked for transparent huge pages where the
/// kernel offers them (`madvise` mode, the Debian default, grants them only on request).
///
/// Why: a token streams ~100 MB of weights; with 4 KiB pages that is ~24,000 TLB misses, each a
/// page walk whose own entries the stream has evicted. Measured on the Zen 5 instance: 4-12% less
/// time per token inside the forward pass, the gate/up products at 42-44 instead of 38-40 GB/s
/// (docs/performance.md, item 15). Without THP the pages are small and nothing else changes.
///
/// Pieces are handed out in order (64-byte aligned) and live as long as the arena: it is sized
/// once for everything it will hold and freed when the last owner lets go.
public final class HugePageArena: @unchecked Sendable {
    public static let hugePageBytes = 2 << 20
    public let capacity: Int
    private let base: UnsafeMutableRawPointer
    /// The mmap'd region `base` lies in (nil when it was allocated instead).
    private let mapping: UnsafeMutableRawPointer?
    private var used = 0

    /// False when AUTODECO_HUGE_PAGES=0.
    public static let enabled = getenv("AUTODECO_HUGE_PAGES").map { String(cString: $0) != "0" } ?? true

    /// Room for `byteCount` bytes of pieces (plus their alignment). Arenas under `hugeFrom` bytes
    /// (256 KiB unless the caller knows better) keep small pages: a huge page would make a few KB
    /// resident as 2 MiB.
    public init(byteCount: Int, hugeFrom: Int = 256 << 10) {
        capacity = max(byteCount, 1)
        #if os(Linux)
        // Mapped one huge page larger and used from a 2 MiB boundary: the kernel grants huge pages
        // only to aligned 2 MiB ranges, and mmap aligns only to 4 KiB.
        let size = Self.mappedSize(capacity)
        if let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED {
            // Advisory; fails harmlessly where THP is off. AUTODECO_HUGE_PAGES=0 skips it (to compare).
            if Self.enabled && capacity >= hugeFrom { _ = madvise(p, size, MADV_HUGEPAGE) }
            mapping = p
            base = p + (Self.hugePageBytes - Int(bitPattern: p) % Self.hugePageBytes) % Self.hugePageBytes
            return
        }
        #endif
        mapping = nil
        base = UnsafeMutableRawPointer.allocate(byteCount: capacity, alignment: 64)
    }

    /// Bytes to reserve for pieces of these sizes (each rounded up to the 64-byte alignment).
    public static func byteCount(pieces: [Int]) -> Int { pieces.reduce(0) { $0 + aligned($1) } }

    /// The next `byteCount` bytes (zero-filled when freshly mapped). The arena must have room.
    public func allocate(byteCount: Int) -> UnsafeMutableRawPointer {
        let size = Self.aligned(byteCount)
        precondition(used + size <= capacity, "HugePageArena: \(byteCount) bytes asked, \(capacity - used) left")
        defer { used += size }
        return base + used
    }

    deinit {
        #if os(Linux)
        if let mapping { munmap(mapping, Self.mappedSize(capacity)); return }
        #endif
        base.deallocate()
    }

    private static func aligned(_ n: Int) -> Int { (max(n, 1) + 63) / 64 * 64 }
    private static func mappedSize(_ n: Int) -> Int { ((n + hugePageBytes - 1) / hugePageBytes + 1) * hugePageBytes }
}
