import Foundation
import ModelFiles
import Models

/// Paths to the repository and the shared reference data beside it.
enum Paths {
    static let repo = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
    static let reference = repo.deletingLastPathComponent().appendingPathComponent("shared/reference/smollm2-135m-instruct-q4_1")
    static func llamacpp(_ f: String) -> String { reference.appendingPathComponent("llamacpp/\(f)").path }
    static func exact(_ f: String) -> String { reference.appendingPathComponent("exact/\(f)").path }
}

/// The default model, loaded once for all tests (fetched into the user cache on first use).
enum Shared {
    private static let path = Result<String, Error> {
        try DefaultModel.ensure(log: { FileHandle.standardError.write(Data(("[test] " + $0 + "\n").utf8)) })
    }
    private static let exact = Result<LlamaModel, Error> { try LlamaModel(gguf: GGUFFile(path: path.get()), threads: 2, precision: .float32) }
    private static let fast = Result<LlamaModel, Error> { try LlamaModel(gguf: GGUFFile(path: path.get()), threads: 2, precision: .int16) }
    private static let eightBit = Result<LlamaModel, Error> { try LlamaModel(gguf: GGUFFile(path: path.get()), threads: 2, precision: .int8) }
    /// The model with float32 activations (compared with exact/ tightly).
    static func model() throws -> LlamaModel { try exact.get() }
    /// The model with int16 activations (the default engine).
    static func int16Model() throws -> LlamaModel { try fast.get() }
    /// The model with int8 activations (outliers at 16 bits).
    static func int8Model() throws -> LlamaModel { try eightBit.get() }
    /// The model with integer activations of `precision` (int16 or int8).
    static func integerModel(_ precision: ActivationPrecision) throws -> LlamaModel {
        precision == .int8 ? try int8Model() : try int16Model()
    }
}

struct ReferencePrompt: Decodable {
    let name: String
    let text: String
    let ids: [Int32]
}

struct Top64: Decodable {
    struct Position: Decodable { let pos: Int; let input_id: Int32?; let logsumexp: Double; let ids: [Int32]; let logits: [Double] }
    let positions: [Position]
}

struct Greedy: Decodable {
    struct Step: Decodable { let step: Int; let id: Int32; let top1_logit: Double; let top2_id: Int32; let top2_logit: Double }
    let prompt_ids: [Int32]
    let greedy_ids: [Int32]
    let steps: [Step]
}

func loadJSON<T: Decodable>(_ type: T.Type, _ path: String) throws -> T {
    try JSONDecoder().decode(T.self, from: Data(contentsOf: URL(fileURLWithPath: path)))
}

func referencePrompts() throws -> [ReferencePrompt] {
    try loadJSON([ReferencePrompt].self, Paths.llamacpp("prompts.json"))
}

/// log(sum(exp(x))) in double precision.
func logSumExp(_ x: ArraySlice<Float>) -> Double {
    let m = Double(x.max() ?? 0)
    return m + log(x.reduce(0.0) { $0 + exp(Double($1) - m) })
}
