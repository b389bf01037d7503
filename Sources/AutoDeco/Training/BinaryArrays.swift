import Foundation

/// The small binary files of training (the activation cache, the trainer checkpoint): a magic
/// line, then arrays of plain values, each as an Int64 element count and the raw little-endian
/// elements.
struct BinaryArrayWriter {
    private(set) var data: Data
    init(magic: String) { data = Data(magic.utf8) }

    mutating func append<T: BitwiseCopyable>(_ array: [T]) {
        withUnsafeBytes(of: Int64(array.count).littleEndian) { data.append(contentsOf: $0) }
        array.withUnsafeBytes { data.append(contentsOf: $0) }
    }
}

/// Reads what `BinaryArrayWriter` wrote; malformed input is a `DataFileError` naming the file.
struct BinaryArrayReader {
    private let data: Data
    private let path: String
    private let kind: String
    private var offset: Int

    init(_ data: Data, magic: String, path: String, kind: String) throws {
        self.data = data; self.path = path; self.kind = kind
        let m = Data(magic.utf8)
        offset = m.count
        guard data.prefix(m.count) == m else { throw error("wrong magic") }
    }

    func error(_ why: String) -> DataFileError { .unreadable(path: path, reason: "not \(kind): \(why)") }

    mutating func next<T: BitwiseCopyable>(_: T.Type, count expected: Int? = nil) throws -> [T] {
        guard offset + 8 <= data.count else { throw error("truncated at byte \(offset)") }
        let n = Int(Int64(littleEndian: data.withUnsafeBytes { $0.loadUnaligned(fromByteOffset: offset, as: Int64.self) }))
        let bytes = n &* MemoryLayout<T>.stride
        guard n >= 0, bytes >= 0, offset + 8 + bytes <= data.count else { throw error("truncated at byte \(offset)") }
        if let expected, n != expected { throw error("an array holds \(n) values where \(expected) belong") }
        offset += 8
        let array = [T](unsafeUninitializedCapacity: n) { buffer, initialized in
            data.withUnsafeBytes { raw in
                UnsafeMutableRawBufferPointer(buffer).copyMemory(from: UnsafeRawBufferPointer(rebasing: raw[offset..<(offset + bytes)]))
            }
            initialized = n
        }
        offset += bytes
        return array
    }

    func finish() throws { guard offset == data.count else { throw error("\(data.count - offset) bytes after the end") } }
}
