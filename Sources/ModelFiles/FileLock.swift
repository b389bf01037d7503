#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An exclusive advisory lock (flock) on a file, held until `unlock()`; waits for other holders.
final class FileLock {
    private var fd: Int32

    init(path: String) throws {
        fd = open(path, O_CREAT | O_RDWR, 0o644)
        guard fd >= 0 else { throw ModelFetchError.lockFailed(path, String(cString: strerror(errno))) }
        while flock(fd, LOCK_EX) != 0 {
            if errno == EINTR { continue }
            let why = String(cString: strerror(errno))
            close(fd)
            fd = -1
            throw ModelFetchError.lockFailed(path, why)
        }
    }

    func unlock() {
        guard fd >= 0 else { return }
        flock(fd, LOCK_UN)
        close(fd)
        fd = -1
    }

    deinit { unlock() }
}
