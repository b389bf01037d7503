import Foundation
import Models

/// `config.json` of an AutoDeco checkpoint: the base model's Hugging Face config fields, flat,
/// plus `model_type: "autodeco"`, `base_model_type`, the head switches and sizes. Unknown fields
/// are kept as they are, so a config read and written again loses nothing.
public struct AutoDecoConfig: @unchecked Sendable {
    public var fields: [String: Any]

    public var hiddenSize: Int {
        get { (fields["temperature_hidden_size"] as? Int) ?? (fields["hidden_size"] as? Int) ?? 0 }
        set { fields["temperature_hidden_size"] = newValue; fields["top_p_hidden_size"] = newValue; fields["hidden_size"] = newValue }
    }
    public var baseModelType: String? { fields["base_model_type"] as? String }
    public var enableTemperatureHead: Bool {
        get { (fields["enable_temperature_head"] as? Bool) ?? true }
        set { fields["enable_temperature_head"] = newValue }
    }
    public var enableTopPHead: Bool {
        get { (fields["enable_top_p_head"] as? Bool) ?? true }
        set { fields["enable_top_p_head"] = newValue }
    }

    public init(fields: [String: Any]) { self.fields = fields }

    /// The config for heads on `model`: its shapes under their Hugging Face names.
    public init(model c: ModelConfig, nameOrPath: String) {
        fields = [
            "architectures": ["AutoDecoModelForCausalLM"], "model_type": "autodeco",
            "base_model_type": c.architecture, "base_model_name_or_path": nameOrPath,
            "enable_temperature_head": true, "enable_top_p_head": true, "use_enhanced_features": true,
            "temperature_hidden_size": c.hidden, "top_p_hidden_size": c.hidden,
            "hidden_size": c.hidden, "intermediate_size": c.ffn, "num_hidden_layers": c.layers,
            "num_attention_heads": c.heads, "num_key_value_heads": c.kvHeads, "head_dim": c.headDim,
            "vocab_size": c.vocab, "max_position_embeddings": c.contextLength,
            "rms_norm_eps": Double(c.normEps), "rope_theta": Double(c.ropeBase),
        ]
    }

    /// Reads and checks a checkpoint's config.json.
    public init(contentsOf path: String) throws {
        let data: Data
        do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch { throw AutoDecoError.badConfig(path: path, reason: "unreadable: \(error.localizedDescription)") }
        guard let obj = (try? JSONSerialization.jsonObject(with: data)) as? [String: Any] else {
            throw AutoDecoError.badConfig(path: path, reason: "not a JSON object")
        }
        fields = obj
        guard let type = obj["model_type"] as? String else { throw AutoDecoError.badConfig(path: path, reason: "no 'model_type'") }
        guard type == "autodeco" else {
            throw AutoDecoError.badConfig(path: path, reason: "model_type is '\(type)', expected 'autodeco' (is this a heads checkpoint?)")
        }
        guard hiddenSize > 0 else { throw AutoDecoError.badConfig(path: path, reason: "no 'temperature_hidden_size' or 'hidden_size'") }
        if let t = obj["top_p_hidden_size"] as? Int, t != hiddenSize {
            throw AutoDecoError.badConfig(path: path, reason: "top_p_hidden_size \(t) differs from temperature_hidden_size \(hiddenSize)")
        }
        if let e = obj["use_enhanced_features"] as? Bool, !e {
            throw AutoDecoError.badConfig(path: path, reason: "use_enhanced_features is false; only the enhanced-feature top-p head is supported")
        }
    }

    public func jsonData() throws -> Data {
        try JSONSerialization.data(withJSONObject: fields, options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
    }
}

/// Why heads could not be loaded or used.
public enum AutoDecoError: Error, Equatable, CustomStringConvertible {
    case missingConfig(directory: String)
    case badConfig(path: String, reason: String)
    case hiddenSizeMismatch(path: String, checkpoint: Int, model: Int)
    case baseModelMismatch(path: String, checkpoint: String, model: String)
    case missingTensor(directory: String, name: String)
    case wrongShape(directory: String, name: String, expected: [Int], found: [Int])
    case wrongDType(directory: String, name: String, dtype: String)

    public var description: String {
        switch self {
        case .missingConfig(let d): return "\(d): no config.json (not an AutoDeco heads checkpoint)"
        case .badConfig(let p, let r): return "\(p): \(r)"
        case .hiddenSizeMismatch(let p, let c, let m): return "\(p): the heads are for hidden size \(c), the model has \(m)"
        case .baseModelMismatch(let p, let c, let m): return "\(p): the heads are for base model type '\(c)', the model is '\(m)'"
        case .missingTensor(let d, let n): return "\(d): the checkpoint has no tensor '\(n)'"
        case .wrongShape(let d, let n, let e, let f): return "\(d): tensor '\(n)' has shape \(f), expected \(e)"
        case .wrongDType(let d, let n, let t): return "\(d): tensor '\(n)' has dtype \(t); expected F32, F16 or BF16"
        }
    }
}
