import Foundation
import Testing
import Tokenizers

/// Renders of Tests/TokenizersTests/Fixtures/templates/*.jinja by Python's jinja2 in Hugging Face's
/// chat-template environment (scripts/make-template-fixtures.py); ours must be byte-identical.
struct ChatTemplateTests {
    struct Render: Decodable {
        let template: String
        let conversation: String
        let add_generation_prompt: Bool
        let messages: [ChatMessage]
        let expected: String?
        let error: String?
    }

    static let fixtures = Fixtures.testsDir.appendingPathComponent("Fixtures")

    @Test func rendersEqualJinja2() throws {
        let data = try Data(contentsOf: Self.fixtures.appendingPathComponent("template_renders.json"))
        let renders = try JSONDecoder().decode([Render].self, from: data)
        let raw = try String(contentsOf: Self.fixtures.appendingPathComponent("template_renders.json"), encoding: .utf8)
        let all = try TemplateValue.parseJSON(raw)
        guard case .array(let rawCases) = all else { Issue.record("fixture is not an array"); return }
        #expect(renders.count >= 60)
        for (r, rawCase) in zip(renders, rawCases) {
            let source = try String(contentsOf: Self.fixtures.appendingPathComponent("templates/\(r.template)"), encoding: .utf8)
            let template = try ChatTemplate(source)
            // Variables other than messages (tools, ...) come from the fixture as ordered JSON.
            var extra = [String: TemplateValue]()
            if case .object(let c) = rawCase, case .object(let vars)? = c["variables"] {
                for k in vars.keys where !["add_generation_prompt", "bos_token", "eos_token"].contains(k) { extra[k] = vars[k] }
            }
            let label = "\(r.template) / \(r.conversation) / add_generation_prompt=\(r.add_generation_prompt)"
            do {
                let out = try template.render(messages: r.messages, addGenerationPrompt: r.add_generation_prompt,
                                              bosToken: "<s>", eosToken: "</s>", extra: extra)
                #expect(r.error == nil, "\(label): jinja2 raised '\(r.error ?? "")' but we rendered")
                #expect(out == r.expected, "\(label)")
            } catch TemplateError.raised(let message) {
                #expect(message == r.error, "\(label)")
            }
        }
    }

    @Test func smolLM2TemplateInsertsItsDefaultSystemMessage() throws {
        let source = try String(contentsOf: Self.fixtures.appendingPathComponent("templates/smollm2.jinja"), encoding: .utf8)
        let out = try ChatTemplate(source).render(messages: [ChatMessage(role: "user", content: "Hi")], addGenerationPrompt: true)
        #expect(out == "<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n")
    }

    @Test func whitespaceControlAndOptions() throws {
        let t = "a\n  {% if x %}\n  yes\n  {% endif %}\nb {{- ' c ' -}} d"
        #expect(try ChatTemplate(t).render(["x": .bool(true)]) == "a\n  yes\nb c d")
        #expect(try ChatTemplate(t, trimBlocks: false, lstripBlocks: false).render(["x": .bool(true)]) == "a\n  \n  yes\n  \nb c d")
    }

    @Test func syntaxErrorsNameTheLine() {
        #expect(throws: TemplateError.syntax(line: 2, message: "missing {% endfor %} before the end of the template")) {
            try ChatTemplate("ok\n{% for m in messages %}{{ m }}")
        }
        #expect(throws: TemplateError.syntax(line: 1, message: "unclosed '{{' tag")) { try ChatTemplate("{{ x ") }
        #expect(throws: TemplateError.self) { try ChatTemplate("{% if %}{% endif %}") }
        #expect(throws: TemplateError.syntax(line: 3, message: "unexpected '{% endif %}'")) { try ChatTemplate("\n\n{% endif %}") }
    }

    @Test func unsupportedConstructsAreNamed() {
        #expect(throws: TemplateError.unsupported(line: 1, construct: "the '{% include %}' statement")) {
            try ChatTemplate("{% include 'x.jinja' %}")
        }
        #expect(throws: TemplateError.unsupported(line: 0, construct: "the 'wordwrap' filter")) {
            try ChatTemplate("{{ 'x' | wordwrap }}").render([:])
        }
    }

    @Test func runtimeErrorsAreClear() {
        #expect(throws: TemplateError.runtime(line: 1, message: "'missing' is undefined (reading its attribute 'x')")) {
            try ChatTemplate("{{ missing.x }}").render([:])
        }
        #expect(throws: TemplateError.raised(message: "no")) { try ChatTemplate("{{ raise_exception('no') }}").render([:]) }
        #expect(throws: TemplateError.runtime(line: 1, message: "unsupported operand types for '+': string and int")) {
            try ChatTemplate("{{ 'a' + 1 }}").render([:])
        }
    }

    @Test func jsonReaderKeepsKeyOrderAndRejectsGarbage() throws {
        let v = try TemplateValue.parseJSON(#"{"b": 1, "a": [true, null, 2.5, "\u00e9\ud83d\ude00"]}"#)
        #expect(try ChatTemplate("{{ v | tojson }}").render(["v": v]) == #"{"b": 1, "a": [true, null, 2.5, "é😀"]}"#)
        #expect(throws: TemplateJSONError.self) { try TemplateValue.parseJSON(#"{"a": }"#) }
        #expect(throws: TemplateJSONError.self) { try TemplateValue.parseJSON("[1, 2") }
    }
}
