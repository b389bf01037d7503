import Foundation

/// A progress line on stderr: bar, counts, rate, ETA and the caller's details. Redrawn in place
/// on a terminal (at most 5 times a second); elsewhere (logs, CI) one line every 15 seconds.
final class ProgressBar {
    let total: Int
    let label: String
    private let start = Date()
    private let startCount: Int
    private var lastDraw = Date.distantPast
    private let isTerminal = isatty(STDERR_FILENO) != 0

    /// `alreadyDone`: work finished before this process (a resumed run), left out of the rate.
    init(total: Int, label: String, alreadyDone: Int = 0) {
        self.total = max(total, 1); self.label = label; startCount = alreadyDone
    }

    func update(_ done: Int, _ details: String = "", force: Bool = false) {
        let now = Date()
        let interval = isTerminal ? 0.2 : 15
        guard force || done >= total || now.timeIntervalSince(lastDraw) >= interval else { return }
        lastDraw = now
        let elapsed = now.timeIntervalSince(start)
        let fraction = Double(min(done, total)) / Double(total)
        let width = 24, filled = Int(fraction * Double(width))
        let bar = String(repeating: "#", count: filled) + String(repeating: "-", count: width - filled)
        let rate = Double(done - startCount) / max(elapsed, 1e-9)
        let eta = rate > 0 ? Double(total - done) / rate : .nan
        let line = "\(label) [\(bar)] \(done)/\(total) \(String(format: "%3.0f%%", 100 * fraction)) | \(Self.duration(elapsed)) elapsed, ETA \(Self.duration(eta))"
            + (details.isEmpty ? "" : " | " + details)
        FileHandle.standardError.write(Data(((isTerminal ? "\r\u{1B}[K" : "") + line + (isTerminal ? "" : "\n")).utf8))
    }

    /// Ends the line (on a terminal).
    func finish() { if isTerminal { FileHandle.standardError.write(Data("\n".utf8)) } }

    static func duration(_ s: Double) -> String {
        guard s.isFinite else { return "--:--" }
        let t = Int(s.rounded())
        return t >= 3600 ? String(format: "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60) : String(format: "%02d:%02d", t / 60, t % 60)
    }
}
