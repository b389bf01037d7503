#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive lock on an output directory (flock on DIR/.lock), taken without waiting: two
/// processes evaluating into the same directory would interleave their answers, so the second
/// one stops with an error instead. Released on deinit (and by the kernel if the process dies).
final class DirectoryLock {
    private var fd: Int32

    init(_ directory: String) throws {
        let path = directory + "/.lock"
        fd = open(path, O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { throw DirectoryLockError.cannotOpen(path, String(cString: strerror(errno))) }
        guard flock(fd, LOCK_EX | LOCK_NB) == 0 else {
            close(fd)
            throw DirectoryLockError.busy(directory)
        }
    }

    deinit { flock(fd, LOCK_UN); close(fd) }
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
