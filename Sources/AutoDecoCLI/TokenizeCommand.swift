import ArgumentParser
import AutoDeco
import Foundation

struct TokenizeCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "tokenize",
        abstract: "Print the token ids of a text (special tokens in the text are parsed).")

    @Argument(help: "The text to tokenize.")
    var text: String?

    @Option(name: .customLong("file"), help: "Tokenize the exact bytes of this file instead.")
    var file: String?

    @Flag(name: .long, help: "Print a JSON array of ids instead of one id per line.")
    var json = false

    @Flag(name: .long, help: "Also print each token's text (one 'id<TAB>piece' per line).")
    var pieces = false

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        let input: String
        if let file {
            let data = try Data(contentsOf: URL(fileURLWithPath: file))
            guard let s = String(data: data, encoding: .utf8) else { throw ValidationError("\(file) is not valid UTF-8") }
            input = s
        } else if let text {
            input = text
        } else {
            throw ValidationError("give a TEXT or --file")
        }
        let path = try modelOptions.resolvePath()
        let tokenizer = try BPETokenizer(gguf: GGUFFile(path: path))
        let ids = tokenizer.encode(input, addSpecial: true, parseSpecial: true)
        if json {
            Console.out("[" + ids.map(String.init).joined(separator: ",") + "]\n")
        } else if pieces {
            for id in ids { Console.out("\(id)\t\(tokenizer.decode([id], renderSpecial: true).debugDescription)\n") }
        } else {
            for id in ids { Console.out("\(id)\n") }
        }
    }
}

struct ForwardCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "forward",
        abstract: "Run a prompt as one batch and dump raw logits and hidden states as .npy (float32).",
        discussion: """
        The file's exact bytes are tokenized with special tokens parsed (nothing is added unless the \
        model's add_bos says so). Logits are [n_tokens, vocab]; hidden states are the final RMSNorm \
        output (the LM head's input), [n_tokens, hidden].
        """)

    @Option(name: .customLong("prompt-file"), help: "The prompt file.")
    var promptFile: String

    @Option(name: .customLong("dump-logits"), help: "Write logits [n_tokens, vocab] to this .npy file.")
    var dumpLogits: String?

    @Option(name: .customLong("dump-hidden"), help: "Write hidden states [n_tokens, hidden] to this .npy file.")
    var dumpHidden: String?

    @OptionGroup var modelOptions: ModelOptions

    func run() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: promptFile))
        guard let text = String(data: data, encoding: .utf8) else { throw ValidationError("\(promptFile) is not valid UTF-8") }
        let lm = try modelOptions.load()
        let ids = lm.tokenizer.encode(text, addSpecial: true, parseSpecial: true)
        guard !ids.isEmpty else { throw ValidationError("the prompt tokenizes to nothing") }
        let ctx = lm.model.makeContext(capacity: ids.count)
        guard ids.count <= ctx.cache.capacity else {
            throw ValidationError("the prompt has \(ids.count) tokens; the model's context is \(lm.model.config.contextLength)")
        }
        let start = Date()
        let out = try lm.model.forward(ids, context: ctx, logits: dumpLogits == nil ? .none : .all)
        let dt = Date().timeIntervalSince(start)
        let c = lm.model.config
        if let dumpLogits { try NPY.write(out.logits, shape: [ids.count, c.vocab], to: dumpLogits) }
        if let dumpHidden { try NPY.write(out.hidden, shape: [ids.count, c.hidden], to: dumpHidden) }
        Console.info(String(format: "%d tokens in %.1f ms (%.1f t/s)", ids.count, dt * 1000, Double(ids.count) / dt))
        if dumpLogits == nil && dumpHidden == nil { Console.out("[" + ids.map(String.init).joined(separator: ",") + "]\n") }
    }
}
