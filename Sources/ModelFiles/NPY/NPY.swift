import Foundation

/// NumPy `.npy` files (format 1.0-3.0), the interchange format for logits and hidden
/// states: `autodeco forward --dump-logits` writes them, the tests read the references.
///
/// ```swift
/// try NPY.write(logits, shape: [tokens, vocab], to: "logits.npy")
/// let (shape, values) = try NPY.readFloat32(path: "logits.npy")
/// ```
public enum NPY {
    /// Reads a little-endian float32 or float64 array in C order (float64 is narrowed).
    public static func readFloat32(path: String) throws -> (shape: [Int], values: [Float]) {
        guard let data = FileManager.default.contents(atPath: path) else { throw NPYError.unreadable(path) }
        return try parse([UInt8](data), path: path)
    }

    /// Parses an in-memory .npy image; `path` names it in errors.
    public static func parse(_ b: [UInt8], path: String) throws -> (shape: [Int], values: [Float]) {
        guard b.count >= 10, b[0] == 0x93, Array(b[1..<6]) == Array("NUMPY".utf8) else {
            throw NPYError.malformed(path, "not an .npy file (bad magic)")
        }
        let major = b[6]
        let lengthBytes = major == 1 ? 2 : 4
        guard (1...3).contains(major), b.count >= 8 + lengthBytes else { throw NPYError.malformed(path, "unsupported format version \(major)") }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(b[8 + i]) << (8 * i) }
        let start = 8 + lengthBytes
        guard start + headerLength <= b.count else { throw NPYError.malformed(path, "header length \(headerLength) runs past the end of the file") }
        let header = String(decoding: b[start..<(start + headerLength)], as: UTF8.self)
        guard let descr = field("descr", in: header) else { throw NPYError.malformed(path, "header has no 'descr'") }
        guard field("fortran_order", in: header) == "False" else { throw NPYError.malformed(path, "Fortran-ordered arrays are not supported") }
        guard let shapeText = field("shape", in: header) else { throw NPYError.malformed(path, "header has no 'shape'") }
        let shape = try shapeText.trimmingCharacters(in: CharacterSet(charactersIn: "() "))
            .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
            .map { s -> Int in
                guard let v = Int(s), v >= 0 else { throw NPYError.malformed(path, "bad dimension '\(s)' in shape") }
                return v
            }
        let count = shape.reduce(1, *)
        let body = start + headerLength
        switch descr {
        case "'<f4'":
            guard b.count - body >= 4 * count else { throw NPYError.malformed(path, "file holds \(b.count - body) data bytes, shape \(shape) needs \(4 * count)") }
            let values = b.withUnsafeBytes { raw in
                (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: body + 4 * $0, as: UInt32.self))) }
            }
            return (shape, values)
        case "'<f8'":
            guard b.count - body >= 8 * count else { throw NPYError.malformed(path, "file holds \(b.count - body) data bytes, shape \(shape) needs \(8 * count)") }
            let values = b.withUnsafeBytes { raw in
                (0..<count).map { Float(Double(bitPattern: UInt64(littleEndian: raw.loadUnaligned(fromByteOffset: body + 8 * $0, as: UInt64.self)))) }
            }
            return (shape, values)
        default:
            throw NPYError.malformed(path, "unsupported dtype \(descr) (float32 '<f4' or float64 '<f8' expected)")
        }
    }

    /// The raw text of `'key': value` in a header dictionary.
    private static func field(_ key: String, in header: String) -> String? {
        guard let r = header.range(of: "'\(key)':") else { return nil }
        let rest = header[r.upperBound...].drop(while: { $0 == " " })
        if rest.first == "(" { return rest.firstIndex(of: ")").map { String(rest[...$0]) } }
        return rest.firstIndex(where: { $0 == "," || $0 == "}" }).map { String(rest[..<$0]).trimmingCharacters(in: .whitespaces) }
    }

    /// Writes a float32 array of `shape` (C order), atomically.
    public static func write(_ values: [Float], shape: [Int], to path: String) throws {
        guard values.count == shape.reduce(1, *) else {
            throw NPYError.shapeMismatch(path, values: values.count, shape: shape)
        }
        try Data(encode(values, shape: shape)).write(to: URL(fileURLWithPath: path), options: .atomic)
    }

    /// The .npy image of a float32 array.
    public static func encode(_ values: [Float], shape: [Int]) -> [UInt8] {
        let dims = shape.count == 1 ? "\(shape[0])," : shape.map(String.init).joined(separator: ", ")
        var header = "{'descr': '<f4', 'fortran_order': False, 'shape': (\(dims)), }"
        // Magic (6) + version (2) + length (2) + header + newline is a multiple of 64.
        let total = 10 + header.utf8.count + 1
        header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
        var out: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
        out += [UInt8(header.utf8.count & 0xff), UInt8(header.utf8.count >> 8)]
        out += Array(header.utf8)
        out.reserveCapacity(out.count + 4 * values.count)
        for v in values { withUnsafeBytes(of: v.bitPattern.littleEndian) { out += $0 } }
        return out
    }
}

public enum NPYError: Error, Equatable, CustomStringConvertible {
    case unreadable(String)
    case malformed(String, String)
    case shapeMismatch(String, values: Int, shape: [Int])

    public var description: String {
        switch self {
        case .unreadable(let p): return "\(p): cannot read file"
        case .malformed(let p, let why): return "\(p): \(why)"
        case .shapeMismatch(let p, let n, let s): return "\(p): \(n) values do not fill shape \(s)"
        }
    }
}
