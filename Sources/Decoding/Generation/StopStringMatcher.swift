/// Holds back streamed text that might be the beginning of a stop string, so
/// that a stop string is never emitted, not even partly.
public struct StopStringMatcher {
    public let stops: [String]
    private var pending = ""

    public init(_ stops: [String]) { self.stops = stops.filter { !$0.isEmpty } }

    /// Appends new text; returns what can be emitted now and whether a stop string was hit.
    public mutating func append(_ text: String) -> (emit: String, stopped: Bool) {
        guard !stops.isEmpty else { return (text, false) }
        pending += text
        if let hit = stops.compactMap({ pending.range(of: $0) }).min(by: { $0.lowerBound < $1.lowerBound }) {
            let out = String(pending[..<hit.lowerBound])
            pending = ""
            return (out, true)
        }
        // Keep the longest suffix that is a prefix of some stop string.
        var keep = 0
        for s in stops {
            for n in stride(from: min(s.count - 1, pending.count), to: 0, by: -1) where pending.hasSuffix(s.prefix(n)) {
                keep = max(keep, n); break
            }
        }
        let cut = pending.index(pending.endIndex, offsetBy: -keep)
        let out = String(pending[..<cut])
        pending = String(pending[cut...])
        return (out, false)
    }

    /// Text still held back when generation ends for another reason.
    public mutating func flush() -> String { defer { pending = "" }; return pending }
}
