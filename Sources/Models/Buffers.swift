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

/// The KV cache of one sequence: per layer, K and V in float32, each KV head's positions
/// contiguous ([kvHeads, capacity, headDim]) so that attention streams them in order.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    public let layers: Int
    public let kvHeads: Int
    public let headDim: Int
    public var kvDim: Int { kvHeads * headDim }
    /// Positions filled so far; the next token goes at `length`.
    public internal(set) var length = 0
    let keys: [UnsafeMutablePointer<Float>]   // per layer [kvHeads, capacity, headDim]
    let values: [UnsafeMutablePointer<Float>] // per layer [kvHeads, capacity, headDim]

    public init(layers: Int, kvHeads: Int, headDim: Int, capacity: Int) {
        self.capacity = capacity; self.layers = layers; self.kvHeads = kvHeads; self.headDim = headDim
        keys = (0..<layers).map { _ in .allocate(capacity: capacity * kvHeads * headDim) }
        values = (0..<layers).map { _ in .allocate(capacity: capacity * kvHeads * headDim) }
    }

    /// Where KV head `head`'s rows of `layer` start; position p is `headDim` floats further per step.
    @inline(__always) func keys(layer: Int, head: Int) -> UnsafeMutablePointer<Float> { keys[layer] + head * capacity * headDim }
    @inline(__always) func values(layer: Int, head: Int) -> UnsafeMutablePointer<Float> { values[layer] + head * capacity * headDim }

    /// Stores one position's K and V ([kvDim] each, heads one after another) for `layer`.
    func write(layer: Int, position p: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        for h in 0..<kvHeads {
            (keys(layer: layer, head: h) + p * headDim).update(from: k + h * headDim, count: headDim)
            (values(layer: layer, head: h) + p * headDim).update(from: v + h * headDim, count: headDim)
        }
    }

    /// Forget positions from `position` on (e.g. to re-run a prompt, or after a rejected draft).
    public func truncate(to position: Int) { length = max(0, min(length, position)) }

    /// Makes this cache hold the first `count` positions of `other` (a shared prompt prefix).
    public func copyPrefix(from other: KVCache, count: Int) {
        precondition(other.layers == layers && other.kvHeads == kvHeads && other.headDim == headDim
                     && count <= min(other.length, capacity), "copyPrefix: incompatible caches")
        for l in 0..<layers {
            for h in 0..<kvHeads {
                keys(layer: l, head: h).update(from: other.keys(layer: l, head: h), count: count * headDim)
                values(layer: l, head: h).update(from: other.values(layer: l, head: h), count: count * headDim)
            }
        }
        length = count
    }

    public var byteCount: Int { 2 * layers * capacity * kvDim * MemoryLayout<Float>.size }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }
}
