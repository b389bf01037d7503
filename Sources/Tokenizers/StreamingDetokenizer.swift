/// Turns a stream of token ids into text without ever emitting a broken UTF-8
/// sequence: bytes of an incomplete character are held back until the token
/// that completes it arrives (a multi-byte character is often split across
/// byte-level tokens).
///
/// ```swift
/// var detok = StreamingDetokenizer(tokenizer: tok)
/// for id in ids { print(detok.append(id), terminator: "") }
/// print(detok.flush())
/// ```
public struct StreamingDetokenizer {
    public let tokenizer: any Tokenizer
    public let renderSpecial: Bool
    private var pending: [UInt8] = []

    public init(tokenizer: any Tokenizer, renderSpecial: Bool = false) {
        self.tokenizer = tokenizer
        self.renderSpecial = renderSpecial
    }

    /// The text that `id` completes (may be empty).
    public mutating func append(_ id: Int32) -> String {
        pending += tokenizer.bytes(of: id, renderSpecial: renderSpecial)
        let cut = Self.completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let text = String(decoding: pending[0..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return text
    }

    /// Whatever is still held back (an unfinished sequence becomes U+FFFD).
    public mutating func flush() -> String {
        defer { pending = [] }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// Length of the longest prefix that does not end inside a possibly valid, unfinished
    /// UTF-8 sequence. Invalid bytes are not held (they decode to U+FFFD right away).
    public static func completePrefixLength(_ b: [UInt8]) -> Int {
        let n = b.count
        // A sequence is at most 4 bytes: look back at most 3 for its lead byte.
        var i = n - 1
        while i >= 0 && i >= n - 4 {
            let c = b[i]
            if c & 0xC0 == 0x80 { i -= 1; continue }   // continuation byte
            let need: Int
            switch c {
            case 0xC2...0xDF: need = 2
            case 0xE0...0xEF: need = 3
            case 0xF0...0xF4: need = 4
            default: return n                          // ASCII or invalid lead: nothing to wait for
            }
            return n - i < need ? i : n
        }
        return n
    }
}
