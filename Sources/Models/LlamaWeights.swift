import Kernels
import ModelFiles

/// One transformer block's weights. Matrices stay in the mapped file in their
/// stored format; small vectors (norms, biases) are copied out as floats.
/// Plain data (the vectors live in their `LlamaWeights`' store), so that a layer is copied and
/// captured without reference counting.
public struct LayerWeights: @unchecked Sendable {
    public let attnNorm: UnsafePointer<Float>          // [hidden]
    public let wq, wk, wv, wo: WeightMatrix             // [qDim, hidden], [kvDim, hidden] x2, [hidden, qDim]
    public let bq, bk, bv: UnsafePointer<Float>?        // Qwen2 biases
    public let qNorm, kNorm: UnsafePointer<Float>?      // Qwen3 per-head norms [headDim]
    public let ffnNorm: UnsafePointer<Float>           // [hidden]
    public let gate, up, down: WeightMatrix // [ffn, hidden] x2, [hidden, ffn]

    /// The seven matrices the block multiplies by, in the order they are read.
    public var matrices: [WeightMatrix] { [wq, wk, wv, wo, gate, up, down] }
}

/// All weights of a Llama-family model, checked against its configuration.
public struct LlamaWeights: @unchecked Sendable {
    public let tokenEmbedding: WeightMatrix // [vocab, hidden]
    public private(set) var layers: [LayerWeights]
    public let outputNorm: UnsafePointer<Float>  // [hidden]
    /// The LM head [vocab, hidden]; the token embedding when the model ties them.
    public private(set) var output: WeightMatrix
    public let tiedEmbeddings: Bool
    /// Where the packed copies of the matrices live (`packForIntegerKernels`): the matrices hold
    /// plain pointers into it.
    private var packedArena: HugePageArena?
    /// Owns the norms' and biases' floats.
    private let vectors = VectorStore()

    public init(gguf f: GGUFFile, config c: ModelConfig) throws {
        func matrix(_ name: String, rows: Int, cols: Int) throws -> WeightMatrix {
            let (info, bytes) = try f.tensor(name, shape: [cols, rows])
            guard let base = bytes.baseAddress else { throw GGUFError.missingTensor(path: f.path, name: name) }
            return WeightMatrix(format: try Self.format(info, path: f.path), rows: rows, cols: cols, data: base)
        }
        let store = vectors
        func vector(_ name: String, _ n: Int) throws -> UnsafePointer<Float> {
            let (info, bytes) = try f.tensor(name, shape: [n])
            guard let base = bytes.baseAddress else { throw GGUFError.missingTensor(path: f.path, name: name) }
            let m = WeightMatrix(format: try Self.format(info, path: f.path), rows: 1, cols: n, data: base)
            let out = store.allocate(n)
            m.dequantizeRow(0, into: out)
            return UnsafePointer(out)
        }
        tokenEmbedding = try matrix("token_embd.weight", rows: c.vocab, cols: c.hidden)
        outputNorm = try vector("output_norm.weight", c.hidden)
        if f.hasTensor("output.weight") {
            output = try matrix("output.weight", rows: c.vocab, cols: c.hidden)
            tiedEmbeddings = false
        } else {
            output = tokenEmbedding
            tiedEmbeddings = true
        }
        var ls = [LayerWeights]()
        for i in 0..<c.layers {
            let p = "blk.\(i)."
            ls.append(LayerWeights(
                attnNorm: try vector(p + "attn_norm.weight", c.hidden),
                wq: try matrix(p + "attn_q.weight", rows: c.qDim, cols: c.hidden),
                wk: try matrix(p + "attn_k.weight", rows: c.kvDim, cols: c.hidden),
                wv: try matrix(p + "attn_v.weight", rows: c.kvDim, cols: c.hidden),
                wo: try matrix(p + "attn_output.weight", rows: c.hidden, cols: c.qDim),
                bq: c.qkvBias ? try vector(p + "attn_q.bias", c.qDim) : nil,
                bk: c.qkvBias ? try vector(p + "attn_k.bias", c.kvDim) : nil,
                bv: c.qkvBias ? try vector(p + "attn_v.bias", c.kvDim) : nil,
                qNorm: c.qkNorm ? try vector(p + "attn_q_norm.weight", c.headDim) : nil,
                kNorm: c.qkNorm ? try vector(p + "attn_k_norm.weight", c.headDim) : nil,
                ffnNorm: try vector(p + "ffn_norm.weight", c.hidden),
                gate: try matrix(p + "ffn_gate.weight", rows: c.ffn, cols: c.hidden),
                up: try matrix(p + "ffn_up.weight", rows: c.ffn, cols: c.hidden),
                down: try matrix(p + "ffn_down.weight", rows: c.hidden, cols: c.ffn)))
        }
        layers = ls
    }

    /// Gives every Q4_1 / Q8_0 matrix product operand (the layers' matrices and the LM head; not
    /// the embedding lookup) a 16-row packed copy in `layout` for the AVX-512 VNNI kernels.
    /// Each matrix's pages of the mapped file leave the resident set once it is packed (they fault
    /// back in if the float path or an embedding lookup reads them): the weights are never
    /// resident twice over, and the peak stays near one copy (the LM head, the largest, first).
    mutating func packForIntegerKernels(layout: PackedRows16.Layout, pool: ThreadPool) {
        // Q8_0 keeps the pair layout under 8-bit activations too (its kernel reads their
        // integers as int16; same sums). The quad layout now streams one token as fast
        // stand-alone, but in place it made the single-token LM head 20-30% slower and the
        // batched one only ~8% faster (docs/performance.md, item 13).
        func layoutOf(_ w: WeightMatrix) -> PackedRows16.Layout { w.format == .q8_0 ? .pairs16 : layout }
        let all = [output] + layers.flatMap(\.matrices)
        // All packed matrices in one huge-page arena (see HugePageArena).
        let arena = HugePageArena(byteCount: HugePageArena.byteCount(
            pieces: all.filter(\.acceptsQuantizedActivations).map { PackedRows16.byteCount(of: $0, layout: layoutOf($0)) }))
        func pack(_ w: WeightMatrix) -> WeightMatrix {
            guard w.acceptsQuantizedActivations else { return w }
            let packed = w.packedInto16Rows(layout: layoutOf(w), pool: pool, arena: arena)
            MappedFile.releaseResidentPages(w.data, count: w.byteCount)
            return packed
        }
        packedArena = arena
        output = pack(output)
        layers = layers.map { l in
            LayerWeights(attnNorm: l.attnNorm, wq: pack(l.wq), wk: pack(l.wk), wv: pack(l.wv), wo: pack(l.wo),
                         bq: l.bq, bk: l.bk, bv: l.bv, qNorm: l.qNorm, kNorm: l.kNorm, ffnNorm: l.ffnNorm,
                         gate: pack(l.gate), up: pack(l.up), down: pack(l.down))
        }
    }

    static func format(_ info: GGUFTensorInfo, path: String) throws -> WeightFormat {
        switch info.type {
        case .f32: return .f32
        case .f16: return .f16
        case .bf16: return .bf16
        case .q4_0: return .q4_0
        case .q4_1: return .q4_1
        case .q8_0: return .q8_0
        default: throw ModelError.unsupportedWeightType(path: path, tensor: info.name, type: info.type.description)
        }
    }

    /// Bytes of weights read for one decoded token.
    public var bytesPerToken: Int {
        layers.reduce(output.byteCount) { s, l in
            s + l.matrices.reduce(0) { $0 + $1.byteCount }
        }
    }
}

/// Float vectors that live as long as their owner (a model's norms and biases), handed out as
/// plain pointers.
final class VectorStore: @unchecked Sendable {
    private var pieces: [UnsafeMutablePointer<Float>] = []

    func allocate(_ count: Int) -> UnsafeMutablePointer<Float> {
        let p = UnsafeMutablePointer<Float>.allocate(capacity: max(count, 1))
        p.initialize(repeating: 0, count: max(count, 1))
        pieces.append(p)
        return p
    }

    deinit { for p in pieces { p.deallocate() } }
}
