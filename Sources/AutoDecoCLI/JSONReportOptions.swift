import ArgumentParser
import AutoDeco
import Foundation

/// `--out FILE` and `--json` of the commands that compute one report (meanshift, diagnose).
struct JSONReportOptions: ParsableArguments {
    @Option(name: .long, help: "Also write the result as JSON to this file.")
    var out: String?

    @Flag(name: .long, help: "Print the result as JSON on stdout.")
    var json = false

    /// Writes the report's JSON text where the flags ask (the file atomically).
    func emit(_ text: Data) throws {
        if let out { try AtomicWrite.write(text, to: out) }
        if json { Console.out(String(decoding: text, as: UTF8.self) + "\n") }
    }
}
