import Foundation
import Models
import Tokenizers

/// A conversation with a model that keeps its KV cache between turns: each
/// turn re-renders the whole conversation and only computes the tokens that
/// differ from what the cache already holds.
///
/// ```swift
/// let session = ChatSession(model: lm, system: "Be brief.")
/// for try await event in session.send("What is 2+3?", parameters: GenerateParameters()) {
///     if case .token(let t) = event { print(t.text, terminator: "") }
/// }
/// ```
public final class ChatSession: @unchecked Sendable {
    public let generator: Generator
    public private(set) var messages: [ChatMessage]

    public init(model: LoadedModel, system: String? = nil, contextSize: Int = 4096,
                controller: any DecodingController = StaticController()) {
        generator = Generator(model: model, contextSize: contextSize, controller: controller)
        messages = system.map { [ChatMessage(role: "system", content: $0)] } ?? []
    }

    /// Adds a user message and streams the assistant's reply (which is then added to the conversation).
    public func send(_ text: String, parameters: GenerateParameters) -> AsyncThrowingStream<GenerationEvent, Error> {
        messages.append(ChatMessage(role: "user", content: text))
        let prompt: [Int32]
        do {
            let rendered = try generator.model.renderChat(messages)
            prompt = generator.model.tokenizer.encode(rendered, addSpecial: true, parseSpecial: true)
        } catch {
            return AsyncThrowingStream { $0.finish(throwing: error) }
        }
        let inner = generator.generate(prompt: prompt, parameters: parameters)
        return AsyncThrowingStream { continuation in
            let task = Task {
                var reply = ""
                do {
                    for try await event in inner {
                        if case .token(let t) = event { reply += t.text }
                        continuation.yield(event)
                    }
                    self.messages.append(ChatMessage(role: "assistant", content: reply))
                    continuation.finish()
                } catch {
                    continuation.finish(throwing: error)
                }
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }
}
