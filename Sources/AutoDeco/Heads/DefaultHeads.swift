import Foundation

/// The heads shipped with the package for the default model (SmolLM2-135M-Instruct), trained
/// here by `scripts/train-default-heads.sh` on rejection-sampled answers to the arithmetic
/// training problems. Found next to the executable (SwiftPM copies them into the resource
/// bundle) or, from a checkout, in the source tree.
public enum DefaultHeads {
    public static let name = "smollm2-135m-instruct-arithmetic"

    public static var directory: String? {
        let fm = FileManager.default
        var candidates = [String]()
        if let env = ProcessInfo.processInfo.environment["AUTODECO_DEFAULT_HEADS"], !env.isEmpty { candidates.append(env) }
        let exe = URL(fileURLWithPath: CommandLine.arguments.first ?? "").resolvingSymlinksInPath().deletingLastPathComponent()
        for dir in [exe, Bundle.main.bundleURL] {
            candidates.append(dir.appendingPathComponent("AutoDeco_AutoDeco.resources/DefaultHeads/\(name)").path)
        }
        candidates.append(URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("DefaultHeads/\(name)").path)
        return candidates.first { fm.fileExists(atPath: $0 + "/config.json") && fm.fileExists(atPath: $0 + "/model.safetensors") }
    }
}
