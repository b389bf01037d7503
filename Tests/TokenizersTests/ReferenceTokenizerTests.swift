import Foundation
import Testing
import ModelFiles
import Models
import Tokenizers

enum Fixtures {
    static let testsDir = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    static let reference = testsDir.deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("shared/reference/smollm2-135m-instruct-q4_1/llamacpp")

    private static let loaded = Result<BPETokenizer, Error> {
        try BPETokenizer(gguf: GGUFFile(path: DefaultModel.ensure(log: { _ in })))
    }
    static func tokenizer() throws -> BPETokenizer { try loaded.get() }
}

/// The default model's tokenizer against llama.cpp's ids (../shared/reference): exact equality.
struct ReferenceTokenizerTests {
    struct Case: Decodable { let text: String; let ids: [Int32]; let decoded: String }
    struct Prompt: Decodable { let name: String; let text: String; let ids: [Int32] }

    static func cases() throws -> [Case] {
        let lines = try String(contentsOf: Fixtures.reference.appendingPathComponent("tokenizer_cases.jsonl"), encoding: .utf8)
        return try lines.split(separator: "\n").map { try JSONDecoder().decode(Case.self, from: Data($0.utf8)) }
    }

    @Test func everyReferenceCaseEncodesAndDecodesExactly() throws {
        let tok = try Fixtures.tokenizer()
        let cases = try Self.cases()
        #expect(cases.count == 30)
        for c in cases {
            let ids = tok.encode(c.text, addSpecial: true, parseSpecial: true)
            #expect(ids == c.ids, "\(c.text.debugDescription)")
            #expect(tok.decode(c.ids, renderSpecial: true) == c.decoded, "\(c.text.debugDescription)")
        }
    }

    @Test func referencePromptsEncodeExactly() throws {
        let tok = try Fixtures.tokenizer()
        let prompts = try JSONDecoder().decode([Prompt].self, from: Data(contentsOf: Fixtures.reference.appendingPathComponent("prompts.json")))
        for p in prompts { #expect(tok.encode(p.text, addSpecial: true, parseSpecial: true) == p.ids, "\(p.name)") }
    }

    @Test func specialTokensAreTextUnlessParsed() throws {
        let tok = try Fixtures.tokenizer()
        let parsed = tok.encode("<|im_start|>user", addSpecial: false, parseSpecial: true)
        #expect(parsed.first == 1)
        let literal = tok.encode("<|im_start|>user", addSpecial: false, parseSpecial: false)
        #expect(!literal.contains(1))
        #expect(tok.decode(literal) == "<|im_start|>user")
        // Control tokens are hidden unless asked for.
        #expect(tok.decode(parsed) == "user")
        #expect(tok.decode(parsed, renderSpecial: true) == "<|im_start|>user")
        #expect(tok.endOfGenerationTokenIDs.contains(2))  // <|im_end|>
        #expect(tok.endOfGenerationTokenIDs.contains(0))  // <|endoftext|>
        #expect(!tok.addBOS)
    }

    @Test func roundTripsArbitraryUnicode() throws {
        let tok = try Fixtures.tokenizer()
        for text in ["naïve café 😀👩‍👩‍👧 日本語のテキスト", "Ω≈ç√∫˜µ≤≥÷ ١٢٣ ½ x²", "tabs\t\tand\r\n\r\nnewlines  \n ", "a'S b'LL 'd''s"] {
            #expect(tok.decode(tok.encode(text, addSpecial: false, parseSpecial: false)) == text)
        }
    }
}

struct PreTokenizerTests {
    @Test func splitsLikeTheGPT2RegexWithIsolatedDigits() {
        let p = PreTokenizer(isolateDigits: true)
        #expect(p.split("Hello world") == ["Hello", " world"])
        #expect(p.split("a  b") == ["a", " ", " b"])
        #expect(p.split("x 123") == ["x", " ", "1", "2", "3"])
        #expect(p.split("don't we'll") == ["don", "'t", " we", "'ll"])
        #expect(p.split("line\r\nnext") == ["line", "\r", "\n", "next"])
        #expect(p.split("end  ") == ["end", "  "])
        #expect(p.split("f(x)!=y") == ["f", "(", "x", ")!=", "y"])
        #expect(PreTokenizer(isolateDigits: false).split("x 123") == ["x", " 123"])
        let text = "Mixed: ünïcode, 42 digits\tand\n\n  spaces."
        #expect(p.split(text).joined() == text)
    }
}

struct StreamingDetokenizerTests {
    @Test func neverEmitsBrokenUTF8() throws {
        let tok = try Fixtures.tokenizer()
        let text = "Emoji 😀 and 日本 and é, split byte by byte."
        // Feed every byte as its own token: multi-byte characters arrive in pieces.
        let byteIDs = Array(text.utf8).compactMap { b in tok.id(of: String(ByteLevelProbe.scalar(b))) }
        #expect(byteIDs.count == text.utf8.count)
        var d = StreamingDetokenizer(tokenizer: tok)
        var out = ""
        for id in byteIDs {
            let piece = d.append(id)
            #expect(!piece.contains("\u{FFFD}"))
            out += piece
        }
        out += d.flush()
        #expect(out == text)
    }

    @Test func heldBackPrefixRule() {
        #expect(StreamingDetokenizer.completePrefixLength([0x61, 0xE6, 0x97]) == 1)   // 'a' + 2 of 3 bytes
        #expect(StreamingDetokenizer.completePrefixLength([0x61, 0xE6, 0x97, 0xA5]) == 4)
        #expect(StreamingDetokenizer.completePrefixLength([0xF0, 0x9F, 0x98]) == 0)
        #expect(StreamingDetokenizer.completePrefixLength([0x61, 0xFF]) == 2)          // invalid: not held
    }
}

/// GPT-2's byte -> printable scalar mapping, written independently of the library's table.
enum ByteLevelProbe {
    static func scalar(_ b: UInt8) -> Unicode.Scalar {
        var n: UInt32 = 0
        for x in 0..<256 {
            let printable = (33...126).contains(x) || (161...172).contains(x) || (174...255).contains(x)
            if x == Int(b) { return printable ? Unicode.Scalar(UInt32(x))! : Unicode.Scalar(256 + n)! }
            if !printable { n += 1 }
        }
        return " "
    }
}

/// Our hand-written splitters against Python's `regex` module running each family's pattern
/// (fixtures from scripts/make-pretokenizer-fixtures.py).
struct PreTokenizerRegexTests {
    struct Case: Decodable { let text: String; let gpt2: [String]; let gpt2_digits: [String]; let llama3: [String]; let qwen2: [String] }

    @Test func everyStyleSplitsLikeTheRegex() throws {
        let cases = try JSONDecoder().decode([Case].self, from: Data(contentsOf: Fixtures.testsDir.appendingPathComponent("Fixtures/pretokenizer_splits.json")))
        #expect(cases.count >= 20)
        for c in cases {
            #expect(PreTokenizer(style: .gpt2(isolateDigits: false)).split(c.text) == c.gpt2, "gpt2: \(c.text.debugDescription)")
            #expect(PreTokenizer(style: .gpt2(isolateDigits: true)).split(c.text) == c.gpt2_digits, "smollm: \(c.text.debugDescription)")
            #expect(PreTokenizer(style: .llama3(maxDigits: 3)).split(c.text) == c.llama3, "llama3: \(c.text.debugDescription)")
            #expect(PreTokenizer(style: .llama3(maxDigits: 1)).split(c.text) == c.qwen2, "qwen2: \(c.text.debugDescription)")
        }
    }

    @Test func ggufNamesMapToStylesAndUnknownOnesAreRejected() {
        #expect(PreTokenizer(ggufName: "smollm")?.style == .gpt2(isolateDigits: true))
        #expect(PreTokenizer(ggufName: "llama-bpe")?.style == .llama3(maxDigits: 3))
        #expect(PreTokenizer(ggufName: "qwen2")?.style == .llama3(maxDigits: 1))
        #expect(PreTokenizer(ggufName: "jais") == nil)
    }
}
