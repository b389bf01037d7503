#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Why a `FileLock` could not be taken.
public enum FileLockError: Error, Equatable {
    /// Another holder has it and the caller asked not to wait.
    case busy(String)
    /// The lock file could not be opened or locked (path, the system's reason).
    case failed(String, String)
}

/// An exclusive advisory lock (flock) on a file, held until `unlock()` or deinit (and released by
/// the kernel if the process dies). `wait: false` fails with `.busy` instead of waiting for
/// another holder.
public final class FileLock {
    private var fd: Int32

    public init(path: String, wait: Bool = true) throws {
        fd = open(path, O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { throw FileLockError.failed(path, String(cString: strerror(errno))) }
        while flock(fd, wait ? LOCK_EX : LOCK_EX | LOCK_NB) != 0 {
            if errno == EINTR { continue }
            let error = errno == EWOULDBLOCK ? FileLockError.busy(path) : .failed(path, String(cString: strerror(errno)))
            close(fd)
            fd = -1
            throw error
        }
    }

    public func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
