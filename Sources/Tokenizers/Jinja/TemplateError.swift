/// Errors of the template engine; each names the construct and, where known, the line.
public enum TemplateError: Error, Equatable, CustomStringConvertible {
    /// The template text is malformed.
    case syntax(line: Int, message: String)
    /// A Jinja feature this engine does not implement (rather than rendering it wrongly).
    case unsupported(line: Int, construct: String)
    /// Evaluation failed (type error, undefined value, ...).
    case runtime(line: Int, message: String)
    /// The template called `raise_exception(message)`.
    case raised(message: String)

    public var description: String {
        switch self {
        case .syntax(let l, let m): return "chat template syntax error at line \(l): \(m)"
        case .unsupported(let l, let c): return "chat template uses \(c) (line \(l)), which this engine does not support"
        case .runtime(let l, let m): return "chat template error at line \(l): \(m)"
        case .raised(let m): return "the chat template refused the conversation: \(m)"
        }
    }
}
