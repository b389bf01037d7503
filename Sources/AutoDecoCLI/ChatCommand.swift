import ArgumentParser
import AutoDeco
import Foundation

struct ChatCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "chat",
        abstract: "Chat with the model through its chat template.",
        discussion: """
        With a MESSAGE: one turn, streamed to stdout. Without: an interactive multi-turn session \
        (the KV cache is kept between turns; type /reset to start over, /quit or Ctrl-D to leave).
        """)

    @Argument(help: "The user message. Omit it for an interactive session.")
    var message: String?

    @Option(name: [.customShort("s"), .long], help: "A system message (default: the template's own, if any).")
    var system: String?

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    func run() async throws {
        let params = try sampling.parameters()
        let lm = try modelOptions.load()
        var session = ChatSession(model: lm, system: system, contextSize: sampling.ctx)
        if let message {
            _ = try await Console.stream(session.send(message, parameters: params), json: sampling.json)
            return
        }
        Console.info("Chatting with \(lm.name). /reset starts over, /quit or Ctrl-D leaves.")
        while true {
            Console.out("> ")
            guard let line = readLine() else { Console.out("\n"); break }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text == "/quit" || text == "/exit" { break }
            if text == "/reset" { session = ChatSession(model: lm, system: system, contextSize: sampling.ctx); continue }
            do {
                _ = try await Console.stream(session.send(text, parameters: params), json: sampling.json)
            } catch {
                Console.info("error: \(error)")
            }
        }
    }
}

struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Continue a raw text prompt (no chat template).",
        discussion: "Special tokens written in the prompt (e.g. <|im_start|>) are parsed as such.")

    @Argument(help: "The prompt text.")
    var prompt: String

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var sampling: SamplingOptions

    func run() async throws {
        let params = try sampling.parameters()
        let lm = try modelOptions.load()
        let ids = lm.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
        guard !ids.isEmpty else { throw ValidationError("the prompt tokenizes to nothing") }
        let generator = Generator(model: lm, contextSize: sampling.ctx)
        if !sampling.json { Console.out(prompt) }
        _ = try await Console.stream(generator.generate(prompt: ids, parameters: params), json: sampling.json)
    }
}
