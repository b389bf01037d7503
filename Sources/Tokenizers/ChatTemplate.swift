/// One message of a conversation.
public struct ChatMessage: Sendable, Equatable, Codable {
    public var role: String
    public var content: String

    public init(role: String, content: String) { self.role = role; self.content = content }
}

/// A model's chat template (Jinja, as Hugging Face renders it: `trim_blocks` and
/// `lstrip_blocks` on, `tojson` without HTML escaping, `raise_exception`, loop
/// controls), parsed once and rendered per conversation.
///
/// ```swift
/// let t = try ChatTemplate("{% for m in messages %}<|{{ m.role }}|>{{ m.content }}{% endfor %}")
/// let text = try t.render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
/// ```
public struct ChatTemplate: @unchecked Sendable {
    public let source: String
    let nodes: [Node]

    /// Parses `source`; a syntax error or an unsupported construct throws `TemplateError`.
    public init(_ source: String, trimBlocks: Bool = true, lstripBlocks: Bool = true) throws {
        self.source = source
        nodes = try TemplateParser.parse(source, options: TemplateLexer.Options(trimBlocks: trimBlocks, lstripBlocks: lstripBlocks))
    }

    /// Renders with arbitrary variables.
    public func render(_ variables: [String: TemplateValue]) throws -> String {
        try TemplateInterpreter(globals: variables).render(nodes)
    }

    /// Renders a conversation: `messages`, `add_generation_prompt`, `bos_token`, `eos_token`, plus `extra`.
    public func render(messages: [ChatMessage], addGenerationPrompt: Bool, bosToken: String = "", eosToken: String = "",
                       extra: [String: TemplateValue] = [:]) throws -> String {
        let msgs = messages.map { m -> TemplateValue in .object(TemplateObject(["role": .string(m.role), "content": .string(m.content)])) }
        var vars: [String: TemplateValue] = [
            "messages": .array(msgs), "add_generation_prompt": .bool(addGenerationPrompt),
            "bos_token": .string(bosToken), "eos_token": .string(eosToken),
        ]
        vars.merge(extra) { $1 }
        return try render(vars)
    }
}
