import Kernels

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

/// How a KV cache stores K and V.
public enum KVCacheElement: String, Sendable, CaseIterable {
    /// Half the memory, and half the bytes attention reads per position (llama.cpp's default):
    /// values rounded to float16 (11 significant bits) as they are written.
    case float16
    /// Exact: what the float32 forward pass uses.
    case float32

    public var bytes: Int { self == .float16 ? 2 : 4 }
}

/// One layer of a `KVCache`: KV head h's rows start `h * headBytes` after `keys` and `values`.
struct KVLayerView {
    let keys: UnsafeMutableRawPointer, values: UnsafeMutableRawPointer
    let headBytes: Int
    let element: KVCacheElement
    @inline(__always) func keys(head: Int) -> UnsafeMutableRawPointer { keys + head * headBytes }
    @inline(__always) func values(head: Int) -> UnsafeMutableRawPointer { values + head * headBytes }
}

/// The KV cache of one sequence: per layer, K and V (float16 or float32), each KV head's
/// positions contiguous ([kvHeads, capacity, headDim]) so that attention streams them in order.
public final class KVCache: @unchecked Sendable {
    public let capacity: Int
    public let layers: Int
    public let kvHeads: Int
    public let headDim: Int
    public let element: KVCacheElement
    public var kvDim: Int { kvHeads * headDim }
    /// Positions filled so far; the next token goes at `length`.
    public internal(set) var length = 0
    let keys: [UnsafeMutableRawPointer]   // per layer [kvHeads, capacity, headDim]
    let values: [UnsafeMutableRawPointer] // per layer [kvHeads, capacity, headDim]

    public init(layers: Int, kvHeads: Int, headDim: Int, capacity: Int, element: KVCacheElement = .float32) {
        self.capacity = capacity; self.layers = layers; self.kvHeads = kvHeads; self.headDim = headDim
        self.element = element
        let count = capacity * kvHeads * headDim
        // Bound to the element type once here, so that typed reads (assumingMemoryBound) are valid.
        func allocate() -> UnsafeMutableRawPointer {
            let p = UnsafeMutableRawPointer.allocate(byteCount: count * element.bytes, alignment: 64)
            switch element {
            case .float16: p.bindMemory(to: Float16.self, capacity: count)
            case .float32: p.bindMemory(to: Float.self, capacity: count)
            }
            return p
        }
        keys = (0..<layers).map { _ in allocate() }
        values = (0..<layers).map { _ in allocate() }
    }

    /// Where KV head `head`'s rows of `layer` start; position p is `headDim` elements further per step.
    @inline(__always) func keys(layer: Int, head: Int) -> UnsafeMutableRawPointer { view(layer: layer).keys(head: head) }
    @inline(__always) func values(layer: Int, head: Int) -> UnsafeMutableRawPointer { view(layer: layer).values(head: head) }

    /// Where `layer`'s keys and values are, as plain data (what attention's threads read: a view
    /// carries no reference to the cache, which the caller keeps alive).
    func view(layer: Int) -> KVLayerView {
        KVLayerView(keys: keys[layer], values: values[layer], headBytes: capacity * headDim * element.bytes, element: element)
    }

    /// Brings the lines that `write(layer:position:...)` will fill into the cache: each new
    /// position's rows are cold (the weights streamed since evicted them), and fetched one head
    /// at a time when written, their misses do not overlap.
    func prefetchRow(layer: Int, position p: Int) {
        let rowBytes = headDim * element.bytes
        for h in 0..<kvHeads {
            VectorOps.prefetch(keys(layer: layer, head: h) + p * rowBytes, bytes: rowBytes)
            VectorOps.prefetch(values(layer: layer, head: h) + p * rowBytes, bytes: rowBytes)
        }
    }

    /// Stores one position's K and V ([kvDim] each, heads one after another) for `layer`.
    func write(layer: Int, position p: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        switch element {
        case .float32: write(Float.self, layer: layer, position: p, keys: k, values: v)
        case .float16: write(Float16.self, layer: layer, position: p, keys: k, values: v)
        }
    }

    private func write<E: KVElement>(_: E.Type, layer: Int, position p: Int, keys k: UnsafePointer<Float>, values v: UnsafePointer<Float>) {
        for h in 0..<kvHeads {
            E.store(k + h * headDim, into: keys(layer: layer, head: h).assumingMemoryBound(to: E.self) + p * headDim, count: headDim)
            E.store(v + h * headDim, into: values(layer: layer, head: h).assumingMemoryBound(to: E.self) + p * headDim, count: headDim)
        }
    }

    /// Forget positions from `position` on (e.g. to re-run a prompt, or after a rejected draft).
    public func truncate(to position: Int) { length = max(0, min(length, position)) }

    /// Makes this cache hold the first `count` positions of `other` (a shared prompt prefix).
    public func copyPrefix(from other: KVCache, count: Int) {
        precondition(other.layers == layers && other.kvHeads == kvHeads && other.headDim == headDim
                     && other.element == element && count <= min(other.length, capacity), "copyPrefix: incompatible caches")
        let bytes = count * headDim * element.bytes
        for l in 0..<layers {
            for h in 0..<kvHeads {
                keys(layer: l, head: h).copyMemory(from: other.keys(layer: l, head: h), byteCount: bytes)
                values(layer: l, head: h).copyMemory(from: other.values(layer: l, head: h), byteCount: bytes)
            }
        }
        length = count
    }

    public var byteCount: Int { 2 * layers * capacity * kvDim * element.bytes }

    deinit {
        keys.forEach { $0.deallocate() }
        values.forEach { $0.deallocate() }
    }
}
