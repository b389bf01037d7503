import ModelFiles

/// An exclusive lock on an output directory (DIR/.lock), taken without waiting: two processes
/// evaluating into the same directory would interleave their answers, so the second one stops
/// with an error instead. Released on deinit (and by the kernel if the process dies).
final class DirectoryLock {
    private let lock: FileLock

    init(_ directory: String) throws {
        do { lock = try FileLock(path: directory + "/.lock", wait: false) } catch let error as FileLockError {
            switch error {
            case .busy: throw DirectoryLockError.busy(directory)
            case .failed(let path, let why): throw DirectoryLockError.cannotOpen(path, why)
            }
        }
    }
}

enum DirectoryLockError: Error, CustomStringConvertible {
    case cannotOpen(String, String)
    case busy(String)
    var description: String {
        switch self {
        case .cannotOpen(let p, let why): return "\(p): cannot open the lock file: \(why)"
        case .busy(let d): return "\(d): another autodeco process is writing an evaluation there"
        }
    }
}
