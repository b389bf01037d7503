import Foundation
import Kernels
import ModelFiles
import Tokenizers

/// A model with everything needed to talk to it: weights, tokenizer and chat template.
///
/// ```swift
/// let lm = try LoadedModel.load(path: "SmolLM2-135M-Instruct.Q4_1.gguf")
/// let ids = lm.tokenizer.encode("Hello", addSpecial: true, parseSpecial: true)
/// ```
public final class LoadedModel: @unchecked Sendable {
    public let path: String
    public let model: LlamaModel
    public let tokenizer: any Tokenizer
    /// The GGUF's `tokenizer.chat_template`, if any.
    public let chatTemplate: ChatTemplate?
    public let name: String

    public init(path: String, model: LlamaModel, tokenizer: any Tokenizer, chatTemplate: ChatTemplate?, name: String) {
        self.path = path; self.model = model; self.tokenizer = tokenizer; self.chatTemplate = chatTemplate; self.name = name
    }

    /// Loads a GGUF file: validates it, maps the weights and builds the tokenizer and template.
    public static func load(path: String, threads: Int = ThreadPool.defaultThreadCount,
                            precision: ActivationPrecision = .int16, kvCache: KVCacheElement? = nil) throws -> LoadedModel {
        let file = try GGUFFile(path: path)
        let model = try LlamaModel(gguf: file, threads: threads, precision: precision, kvCache: kvCache)
        let tokenizer = try BPETokenizer(gguf: file)
        var template: ChatTemplate?
        if let src = try? file.string("tokenizer.chat_template") { template = try ChatTemplate(src) }
        let name = (try? file.string("general.name")) ?? URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
        return LoadedModel(path: path, model: model, tokenizer: tokenizer, chatTemplate: template, name: name)
    }

    /// Renders a conversation through the model's chat template (ChatML if it has none).
    public func renderChat(_ messages: [ChatMessage], addGenerationPrompt: Bool = true) throws -> String {
        guard let t = chatTemplate else {
            return messages.map { "<|im_start|>\($0.role)\n\($0.content)<|im_end|>\n" }.joined()
                + (addGenerationPrompt ? "<|im_start|>assistant\n" : "")
        }
        let bos = tokenizer.bosTokenID.map { tokenizer.decode([$0], renderSpecial: true) } ?? ""
        let eos = tokenizer.eosTokenID.map { tokenizer.decode([$0], renderSpecial: true) } ?? ""
        return try t.render(messages: messages, addGenerationPrompt: addGenerationPrompt, bosToken: bos, eosToken: eos)
    }
}
