/// A growable scratch buffer that is reused across forward passes, so a decode
/// step allocates nothing.
final class ScratchBuffer<Element: ExpressibleByIntegerLiteral> {
    private(set) var pointer: UnsafeMutablePointer<Element>
    private(set) var capacity: Int

    init(_ capacity: Int = 0) {
        self.capacity = max(capacity, 16)
        pointer = .allocate(capacity: self.capacity)
        pointer.initialize(repeating: 0, count: self.capacity)
    }

    /// Makes room for n elements (contents are not preserved when it grows).
    @discardableResult
    func reserve(_ n: Int) -> UnsafeMutablePointer<Element> {
        if n > capacity {
            pointer.deallocate()
            capacity = n
            pointer = .allocate(capacity: n)
            pointer.initialize(repeating: 0, count: n)
        }
        return pointer
    }

    deinit { pointer.deallocate() }
}

typealias FloatBuffer = ScratchBuffer<Float>

/// The KV cache of one sequence: per layer, K and V rows [capacity, kvDim] in float32.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    public let layers: Int
    public let kvDim: Int
    /// Positions filled so far; the next token goes at `length`.
    public internal(set) var length = 0
    let keys: [UnsafeMutablePointer<Float>]   // per layer [capacity, kvDim]
    let values: [UnsafeMutablePointer<Float>] // per layer [capacity, kvDim]

    public init(layers: Int, kvDim: Int, capacity: Int) {
        self.capacity = capacity; self.layers = layers; self.kvDim = kvDim
        keys = (0..<layers).map { _ in .allocate(capacity: capacity * kvDim) }
        values = (0..<layers).map { _ in .allocate(capacity: capacity * kvDim) }
    }

    /// Forget positions from `position` on (e.g. to re-run a prompt, or after a rejected draft).
    public func truncate(to position: Int) { length = max(0, min(length, position)) }

    /// Makes this cache hold the first `count` positions of `other` (a shared prompt prefix).
    public func copyPrefix(from other: KVCache, count: Int) {
        precondition(other.layers == layers && other.kvDim == kvDim && count <= min(other.length, capacity), "copyPrefix: incompatible caches")
        for l in 0..<layers {
            keys[l].update(from: other.keys[l], count: count * kvDim)
            values[l].update(from: other.values[l], count: count * kvDim)
        }
        length = count
    }

    public var byteCount: Int { 2 * layers * capacity * kvDim * MemoryLayout<Float>.size }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }
}
