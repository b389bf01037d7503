import Foundation
import ModelFiles
import Models

/// The official heads-only checkpoint: a directory with `config.json` (the base model's config
/// fields plus the AutoDeco ones) and `model.safetensors` holding the 8 head tensors in PyTorch's
/// `[out, in]` layout. Heads trained here load in the official PyTorch/vLLM code and theirs here.
public enum AutoDecoCheckpoint {
    /// The 8 tensors, with their shapes for hidden size H.
    public static func tensorShapes(hiddenSize h: Int) -> [(name: String, shape: [Int])] {
        [("temp_head.mlp.0.weight", [256, h]), ("temp_head.mlp.0.bias", [256]),
         ("temp_head.mlp.2.weight", [1, 256]), ("temp_head.mlp.2.bias", [1]),
         ("top_p_head.mlp.0.weight", [256, h + 5]), ("top_p_head.mlp.0.bias", [256]),
         ("top_p_head.mlp.2.weight", [1, 256]), ("top_p_head.mlp.2.bias", [1])]
    }

    /// Loads and checks a checkpoint against the model it will run on. `baseModelType` is the
    /// model's architecture (`llama`, `qwen2`, `qwen3`); nil skips that check.
    public static func load(directory: String, hiddenSize: Int? = nil, baseModelType: String? = nil) throws -> AutoDecoHeads {
        let configURL = URL(fileURLWithPath: directory).appendingPathComponent("config.json")
        guard FileManager.default.fileExists(atPath: configURL.path) else { throw AutoDecoError.missingConfig(directory: directory) }
        let config = try AutoDecoConfig(contentsOf: configURL.path)
        let h = config.hiddenSize
        if let hiddenSize, h != hiddenSize {
            throw AutoDecoError.hiddenSizeMismatch(path: configURL.path, checkpoint: h, model: hiddenSize)
        }
        if let baseModelType, let base = config.baseModelType, base != baseModelType {
            throw AutoDecoError.baseModelMismatch(path: configURL.path, checkpoint: base, model: baseModelType)
        }
        let store = try SafetensorsDirectory(directory: directory)
        var values = [String: [Float]]()
        for (name, shape) in tensorShapes(hiddenSize: h) {
            let info: SafetensorsTensorInfo
            do { info = try store.info(name) } catch { throw AutoDecoError.missingTensor(directory: directory, name: name) }
            guard info.shape == shape else {
                throw AutoDecoError.wrongShape(directory: directory, name: name, expected: shape, found: info.shape)
            }
            guard [.f32, .f16, .bf16].contains(info.dtype) else {
                throw AutoDecoError.wrongDType(directory: directory, name: name, dtype: info.dtype.rawValue)
            }
            values[name] = try store.floats(name)
        }
        func mlp(_ prefix: String, inputs: Int) -> HeadMLP {
            HeadMLP(first: Linear(inputs: inputs, outputs: 256, weight: values["\(prefix).mlp.0.weight"]!, bias: values["\(prefix).mlp.0.bias"]!),
                    second: Linear(inputs: 256, outputs: 1, weight: values["\(prefix).mlp.2.weight"]!, bias: values["\(prefix).mlp.2.bias"]!))
        }
        var heads = AutoDecoHeads(hiddenSize: h, temperatureHead: mlp("temp_head", inputs: h), topPHead: mlp("top_p_head", inputs: h + 5))
        heads.temperatureHeadEnabled = config.enableTemperatureHead
        heads.topPHeadEnabled = config.enableTopPHead
        return heads
    }

    /// Writes `heads` as a heads-only checkpoint (each file atomically). `baseConfig` holds the base
    /// model's Hugging Face config fields; `dtype` is F32 (exact) or BF16 (as the released heads).
    public static func save(_ heads: AutoDecoHeads, to directory: String, baseConfig: AutoDecoConfig,
                            dtype: SafetensorsDType = .f32) throws {
        var w = SafetensorsWriter()
        w.metadata = ["format": "pt"]
        let t = heads.temperatureHead, p = heads.topPHead
        let data: [String: [Float]] = [
            "temp_head.mlp.0.weight": t.first.weight, "temp_head.mlp.0.bias": t.first.bias,
            "temp_head.mlp.2.weight": t.second.weight, "temp_head.mlp.2.bias": t.second.bias,
            "top_p_head.mlp.0.weight": p.first.weight, "top_p_head.mlp.0.bias": p.first.bias,
            "top_p_head.mlp.2.weight": p.second.weight, "top_p_head.mlp.2.bias": p.second.bias,
        ]
        for (name, shape) in tensorShapes(hiddenSize: heads.hiddenSize) { try w.add(name, shape: shape, floats: data[name]!, as: dtype) }
        var config = baseConfig
        config.hiddenSize = heads.hiddenSize
        config.enableTemperatureHead = heads.temperatureHeadEnabled
        config.enableTopPHead = heads.topPHeadEnabled
        config.fields["torch_dtype"] = dtype == .bf16 ? "bfloat16" : dtype == .f16 ? "float16" : "float32"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        let dir = URL(fileURLWithPath: directory)
        try w.write(to: dir.appendingPathComponent("model.safetensors").path)
        try AtomicWrite.write(config.jsonData(), to: dir.appendingPathComponent("config.json").path)
    }
}

extension AutoDecoCheckpoint {
    /// Loads a checkpoint checked against the model that will run it (hidden size, architecture).
    /// The heads for `model`, their first layers stored for inference in `format`.
    public static func load(directory: String, for model: ModelConfig, format: HeadWeightFormat = .exact) throws -> AutoDecoHeads {
        var heads = try load(directory: directory, hiddenSize: model.hidden, baseModelType: model.architecture)
        heads.inferenceFormat = format
        return heads
    }
}
