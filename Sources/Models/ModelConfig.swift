import Kernels
import ModelFiles

/// Shapes and options of a Llama-family model. Per-architecture differences
/// (Llama, Qwen2, Qwen3) are values here, not copies of the forward pass.
public struct ModelConfig: Sendable, Equatable {
    public var architecture: String
    public var layers: Int
    public var hidden: Int
    public var ffn: Int
    public var heads: Int
    public var kvHeads: Int
    public var headDim: Int
    public var vocab: Int
    public var contextLength: Int
    public var normEps: Float
    public var ropeBase: Float
    public var ropeStyle: RopeStyle
    /// Qwen2: biases on the q, k and v projections.
    public var qkvBias: Bool
    /// Qwen3: RMSNorm over each head of q and k before RoPE.
    public var qkNorm: Bool

    public var qDim: Int { heads * headDim }
    public var kvDim: Int { kvHeads * headDim }

    public static let supportedArchitectures = ["llama", "qwen2", "qwen3"]

    /// Reads the configuration from GGUF metadata (`<arch>.block_count`, ...).
    public init(gguf f: GGUFFile) throws {
        let arch = try f.string("general.architecture")
        guard Self.supportedArchitectures.contains(arch) else {
            throw ModelError.unsupportedArchitecture(path: f.path, architecture: arch)
        }
        architecture = arch
        layers = try f.int("\(arch).block_count")
        hidden = try f.int("\(arch).embedding_length")
        ffn = try f.int("\(arch).feed_forward_length")
        heads = try f.int("\(arch).attention.head_count")
        kvHeads = try f.int("\(arch).attention.head_count_kv", default: heads)
        guard heads > 0 else { throw ModelError.badConfig(path: f.path, reason: "attention.head_count is 0") }
        headDim = try f.int("\(arch).attention.key_length", default: hidden / heads)
        let tokens = try? f.strings("tokenizer.ggml.tokens")
        vocab = try f.int("\(arch).vocab_size", default: tokens?.count ?? 0)
        contextLength = try f.int("\(arch).context_length", default: 2048)
        normEps = Float(try f.double("\(arch).attention.layer_norm_rms_epsilon", default: 1e-5))
        ropeBase = Float(try f.double("\(arch).rope.freq_base", default: 10000))
        // llama.cpp's converter permutes Llama q/k weights so that adjacent pairs rotate;
        // Qwen GGUFs keep the Hugging Face (NeoX, split-half) layout.
        ropeStyle = arch == "llama" ? .adjacentPairs : .splitHalf
        qkvBias = arch == "qwen2"
        qkNorm = arch == "qwen3"
        try validate(path: f.path)
    }

    public init(architecture: String, layers: Int, hidden: Int, ffn: Int, heads: Int, kvHeads: Int, headDim: Int,
                vocab: Int, contextLength: Int, normEps: Float, ropeBase: Float, ropeStyle: RopeStyle,
                qkvBias: Bool = false, qkNorm: Bool = false) {
        self.architecture = architecture; self.layers = layers; self.hidden = hidden; self.ffn = ffn
        self.heads = heads; self.kvHeads = kvHeads; self.headDim = headDim; self.vocab = vocab
        self.contextLength = contextLength; self.normEps = normEps; self.ropeBase = ropeBase
        self.ropeStyle = ropeStyle; self.qkvBias = qkvBias; self.qkNorm = qkNorm
    }

    func validate(path: String) throws {
        func bad(_ r: String) -> ModelError { .badConfig(path: path, reason: r) }
        guard (1...4096).contains(layers) else { throw bad("block_count \(layers) out of range") }
        guard (1...1 << 16).contains(hidden), (1...1 << 18).contains(ffn) else { throw bad("embedding_length \(hidden) or feed_forward_length \(ffn) out of range") }
        guard kvHeads > 0, heads % kvHeads == 0 else { throw bad("head_count \(heads) is not a multiple of head_count_kv \(kvHeads)") }
        guard headDim > 0, headDim % 2 == 0, headDim <= 1024 else { throw bad("head dimension \(headDim) must be even and at most 1024") }
        guard vocab > 0 else { throw bad("vocabulary size is 0") }
        guard contextLength > 0 else { throw bad("context_length is 0") }
        guard normEps > 0, normEps.isFinite, ropeBase > 0, ropeBase.isFinite else { throw bad("rms epsilon or rope base not positive") }
    }

    /// Multiply-accumulates per token for the weight matrices (x2 for FLOPs); attention excluded.
    public var weightMACsPerToken: Int {
        layers * (hidden * (qDim + 2 * kvDim) + qDim * hidden + 3 * hidden * ffn) + hidden * vocab
    }
}

/// Errors loading or running a model.
public enum ModelError: Error, CustomStringConvertible, Equatable {
    case unsupportedArchitecture(path: String, architecture: String)
    case badConfig(path: String, reason: String)
    case unsupportedWeightType(path: String, tensor: String, type: String)
    case tokenOutOfRange(token: Int32, vocab: Int)
    case contextFull(needed: Int, capacity: Int)
    case emptyInput
    case duplicateContextInBatch

    public var description: String {
        switch self {
        case .unsupportedArchitecture(let p, let a):
            return "\(p): unsupported architecture '\(a)' (supported: \(ModelConfig.supportedArchitectures.joined(separator: ", ")))"
        case .badConfig(let p, let r): return "\(p): invalid model configuration: \(r)"
        case .unsupportedWeightType(let p, let t, let ty): return "\(p): tensor '\(t)' has type \(ty), which this engine cannot compute with"
        case .duplicateContextInBatch: return "a batched forward pass got the same sequence context twice"
        case .tokenOutOfRange(let t, let v): return "token id \(t) is outside the vocabulary (0..<\(v))"
        case .contextFull(let n, let c): return "the context is full: \(n) positions needed, the KV cache holds \(c) (raise --ctx)"
        case .emptyInput: return "no input tokens"
        }
    }
}
