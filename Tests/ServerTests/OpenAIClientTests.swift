import AutoDeco
import AutoDecoServer
import Foundation
import Logging
import Testing

/// The server on a loopback port with the default model and its shipped heads, driven by the
/// official OpenAI Python client (installed by scripts/openai-client-venv) and by plain HTTP:
/// Clients/openai_checks.py runs each check and reports it; each report is one expectation here.
@Suite(.serialized) struct OpenAIClientTests {
    static let apiKey = "sk-autodeco-test"

    @Test func officialClientAndPlainHTTP() async throws {
        let python = try Self.run(["bash", Self.repository + "/scripts/openai-client-venv"]).trimmingCharacters(in: .whitespacesAndNewlines)
        let lm = try LoadedModel.load(path: DefaultModel.ensure(log: { _ in }), threads: 2)
        let directory = try #require(DefaultHeads.directory, "the shipped heads are missing")
        let heads = try AutoDecoCheckpoint.load(directory: directory, hiddenSize: lm.model.config.hidden,
                                                baseModelType: lm.model.config.architecture)
        var config = ServerConfiguration(modelID: "smollm2-test")
        config.port = 0
        config.parallel = 4
        config.contextSize = 1024
        config.apiKey = Self.apiKey
        var logger = Logger(label: "test.server")
        logger.logLevel = .warning
        let server = OpenAIServer(model: lm, heads: heads, configuration: config, logger: logger)
        let port = PortBox()
        let serving = Task { try await server.run { port.set($0) } }
        defer { serving.cancel() }
        let bound = try await port.wait()

        let output = try Self.run([python, Self.repository + "/Tests/ServerTests/Clients/openai_checks.py",
                                   "http://127.0.0.1:\(bound)", Self.apiKey], allowFailure: true)
        var checks = 0
        for line in output.split(separator: "\n") {
            guard let data = line.data(using: .utf8),
                  let report = try? JSONSerialization.jsonObject(with: data) as? [String: Any],
                  let name = report["check"] as? String, let ok = report["ok"] as? Bool else { continue }
            checks += 1
            #expect(ok, "\(name): \(report["detail"] as? String ?? "")")
        }
        #expect(checks == 13, "expected 13 check reports, got \(checks); output:\n\(output)")
    }

    static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    /// Runs a command; returns its stdout (stderr passes through).
    static func run(_ arguments: [String], allowFailure: Bool = false) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        p.arguments = arguments
        let out = Pipe()
        p.standardOutput = out
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        let text = String(decoding: data, as: UTF8.self)
        if !allowFailure && p.terminationStatus != 0 {
            throw CommandFailed(command: arguments.joined(separator: " "), status: p.terminationStatus, output: text)
        }
        return text
    }

    struct CommandFailed: Error { let command: String; let status: Int32; let output: String }
}

/// The port the server reports once it listens.
final class PortBox: @unchecked Sendable {
    private let lock = NSLock()
    private var port: Int?
    func set(_ p: Int) { lock.withLock { port = p } }
    func wait() async throws -> Int {
        for _ in 0..<600 {
            if let p = lock.withLock({ port }) { return p }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw CancellationError()
    }
}
