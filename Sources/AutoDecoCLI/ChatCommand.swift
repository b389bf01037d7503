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
    @OptionGroup var headsOptions: HeadsOptions
    @OptionGroup var sampling: SamplingOptions

    func run() async throws {
        let setup = try DecodingSetup(model: modelOptions, heads: headsOptions, sampling: sampling)
        let lm = setup.lm, params = setup.parameters, controller = setup.controller
        func newSession() -> ChatSession {
            ChatSession(model: lm, system: system, contextSize: sampling.ctx, controller: controller)
        }
        var session = newSession()
        if let message {
            let (_, tokens) = try await Console.stream(session.send(message, parameters: params), json: sampling.json)
            if let trace = sampling.trace {
                try Console.writeTrace(trace, title: "autodeco chat", prompt: message, tokens: tokens,
                                       details: setup.traceDetails())
            }
            return
        }
        if sampling.trace != nil { Console.info("--trace is written for one-turn chats (give a MESSAGE); ignored here") }
        Console.info("Chatting with \(lm.name). /reset starts over, /quit or Ctrl-D leaves.")
        while true {
            Console.out("> ")
            guard let line = readLine() else { Console.out("\n"); break }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text.isEmpty { continue }
            if text == "/quit" || text == "/exit" { break }
            if text == "/reset" { session = newSession(); continue }
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
    @OptionGroup var headsOptions: HeadsOptions
    @OptionGroup var sampling: SamplingOptions

    func run() async throws {
        let setup = try DecodingSetup(model: modelOptions, heads: headsOptions, sampling: sampling)
        let lm = setup.lm, params = setup.parameters
        let ids = lm.tokenizer.encode(prompt, addSpecial: true, parseSpecial: true)
        guard !ids.isEmpty else { throw ValidationError("the prompt tokenizes to nothing") }
        let generator = Generator(model: lm, contextSize: sampling.ctx, controller: setup.controller)
        if !sampling.json { Console.out(prompt) }
        let (_, tokens) = try await Console.stream(generator.generate(prompt: ids, parameters: params), json: sampling.json)
        if let trace = sampling.trace {
            try Console.writeTrace(trace, title: "autodeco generate", prompt: prompt, tokens: tokens,
                                   details: setup.traceDetails())
        }
    }
}

/// What chat and generate decode with: the model, the heads (given, shipped or none), the sampling
/// parameters (whose defaults depend on the heads) and the controller.
struct DecodingSetup {
    let lm: LoadedModel
    let headsDirectory: String?
    let heads: HeadsOptions
    let parameters: GenerateParameters
    let controller: any DecodingController

    init(model: ModelOptions, heads: HeadsOptions, sampling: SamplingOptions) throws {
        headsDirectory = try heads.directory(model: model)
        parameters = try sampling.parameters(withHeads: headsDirectory != nil)
        lm = try model.load()
        controller = try heads.controller(for: lm, directory: headsDirectory)
        self.heads = heads
    }

    /// Header lines of a trace page: what produced it.
    func traceDetails() -> [String] {
        let s = parameters.sampling
        var lines = ["model: \(lm.name) (\(lm.path))"]
        if let h = headsDirectory {
            var which = [String]()
            if heads.noTemperatureHead { which.append("temperature head off") }
            if heads.noTopPHead { which.append("top-p head off") }
            lines.append("AutoDeco heads: \(h)" + (which.isEmpty ? "" : " (\(which.joined(separator: ", ")))"))
        } else {
            lines.append("static decoding (no heads)")
        }
        lines.append("user settings: temperature \(s.temperature), top-p \(s.topP), top-k \(s.topK), min-p \(s.minP), seed \(s.seed.map(String.init) ?? "random"), max tokens \(parameters.maxTokens)")
        return lines
    }
}
