import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Errors opening or mapping a file.
public enum FileMapError: Error, CustomStringConvertible {
    case cannotOpen(path: String, reason: String)
    case cannotMap(path: String, reason: String)

    public var description: String {
        switch self {
        case .cannotOpen(let path, let reason): return "cannot open \(path): \(reason)"
        case .cannotMap(let path, let reason): return "cannot memory-map \(path): \(reason)"
        }
    }
}

/// A read-only memory mapping of a whole file. Weights are used in place from
/// the page cache: nothing is copied, and untouched tensors cost no memory.
public final class MappedFile: @unchecked Sendable {
    public let path: String
    /// The file's bytes; valid for the lifetime of this object.
    public let bytes: UnsafeRawBufferPointer

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw FileMapError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw FileMapError.cannotOpen(path: path, reason: String(cString: strerror(errno))) }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw FileMapError.cannotOpen(path: path, reason: "not a regular file") }
        let size = Int(st.st_size)
        if size == 0 {
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, size, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw FileMapError.cannotMap(path: path, reason: String(cString: strerror(errno))) }
        bytes = UnsafeRawBufferPointer(start: p, count: size)
    }

    /// Ask the kernel to read ahead the whole mapping (weights are read in order every token).
    public func adviseWillNeed() {
        guard let base = bytes.baseAddress else { return }
        _ = madvise(UnsafeMutableRawPointer(mutating: base), bytes.count, Int32(MADV_WILLNEED))
    }

    /// Drops the whole pages inside `start ..< start + count` (part of a read-only file mapping)
    /// from this process's resident set; they stay valid and are read back from the page cache
    /// (or the file) on the next access. Pages shared with bytes outside the range are kept.
    /// Only for memory inside a `MappedFile` (never written): on anonymous memory the same call
    /// would zero the pages.
    public static func releaseResidentPages(_ start: UnsafeRawPointer, count: Int) {
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let lo = (Int(bitPattern: start) + page - 1) / page * page
        let hi = (Int(bitPattern: start) + count) / page * page
        guard hi > lo, let p = UnsafeMutableRawPointer(bitPattern: lo) else { return }
        _ = madvise(p, hi - lo, Int32(MADV_DONTNEED))
    }

    deinit {
        if let base = bytes.baseAddress { munmap(UnsafeMutableRawPointer(mutating: base), bytes.count) }
    }
}
