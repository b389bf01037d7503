/// JSON fields of the OpenAI API that accept more than one shape.

/// An integer field. Foundation's decoder reports 1.5 or 1e30 for an `Int` as unreadable JSON
/// without naming the field; this one names it.
struct IntegerField: Decodable, Sendable {
    var value: Int
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let i = try? c.decode(Int.self) { value = i; return }
        if (try? c.decode(Double.self)) != nil {
            throw DecodingError.typeMismatch(Int.self, .init(codingPath: c.codingPath, debugDescription: "not an integer in range"))
        }
        value = try c.decode(Int.self)  // rethrows the type mismatch, with the field's path
    }
}

/// `stop`: a string or a list of strings.
struct StopField: Decodable, Sendable {
    var values: [String]
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { values = [s]; return }
        if let list = try? c.decode([String].self) { values = list; return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a string or an array of strings.")
    }
}

/// `prompt` of /v1/completions: a string, a list of strings, a list of token ids, or a list of such lists.
enum PromptField: Decodable, Sendable {
    case texts([String])
    case tokens([[Int32]])
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let s = try? c.decode(String.self) { self = .texts([s]); return }
        if let list = try? c.decode([String].self) { self = .texts(list); return }
        if let ids = try? c.decode([Int32].self) { self = .tokens([ids]); return }
        if let lists = try? c.decode([[Int32]].self) { self = .tokens(lists); return }
        throw DecodingError.dataCorruptedError(
            in: c, debugDescription: "expected a string, an array of strings, an array of token ids or an array of such arrays.")
    }
}

/// One message of /v1/chat/completions. `content` is a string, an array of parts
/// (`{"type": "text", "text": ...}`; the texts are joined) or null.
struct MessageField: Decodable, Sendable {
    var role: String
    var content: String

    private enum Keys: String, CodingKey { case role, content }
    private struct Part: Decodable { var type: String; var text: String? }

    init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: Keys.self)
        role = try c.decode(String.self, forKey: .role)
        if try c.decodeNil(forKey: .content) { content = ""; return }
        if let s = try? c.decode(String.self, forKey: .content) { content = s; return }
        if let parts = try? c.decode([Part].self, forKey: .content) {
            guard parts.allSatisfy({ $0.type == "text" && $0.text != nil }) else {
                throw DecodingError.dataCorruptedError(forKey: .content, in: c,
                                                       debugDescription: "only text parts ({\"type\": \"text\", \"text\": ...}) are supported.")
            }
            content = parts.compactMap(\.text).joined()
            return
        }
        throw DecodingError.dataCorruptedError(forKey: .content, in: c, debugDescription: "expected a string or an array of text parts.")
    }
}

/// `logprobs`: a boolean in chat completions, an integer (how many alternatives) in completions.
enum LogprobsField: Decodable, Sendable {
    case flag(Bool)
    case count(Int)
    init(from decoder: Decoder) throws {
        let c = try decoder.singleValueContainer()
        if let b = try? c.decode(Bool.self) { self = .flag(b); return }
        if let n = try? c.decode(Int.self) { self = .count(n); return }
        throw DecodingError.dataCorruptedError(in: c, debugDescription: "expected a boolean (chat) or an integer (completions).")
    }
}

struct StreamOptionsField: Decodable, Sendable {
    var includeUsage: Bool?
    private enum CodingKeys: String, CodingKey { case includeUsage = "include_usage" }
}
