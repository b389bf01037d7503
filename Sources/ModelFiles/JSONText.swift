import Foundation

/// JSON text helpers where the output must be byte-exact (Python's `json.dumps` style), which
/// JSONSerialization does not promise.
public enum JSONText {
    /// `s` as a JSON string literal, non-ASCII kept as is (`ensure_ascii=False`).
    public static func quoted(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{08}": out += "\\b"
            case "\u{0C}": out += "\\f"
            default:
                if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }
}
