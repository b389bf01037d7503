import Foundation
import Kernels

/// Builds a safetensors file: tensors in insertion order, 8-byte aligned header, written atomically.
///
/// ```swift
/// var w = SafetensorsWriter()
/// try w.add("bias", shape: [256], floats: bias, as: .bf16)
/// try w.write(to: "model.safetensors")
/// ```
public struct SafetensorsWriter {
    private var entries: [(name: String, dtype: SafetensorsDType, shape: [Int], data: Data)] = []
    public var metadata: [String: String] = [:]

    public init() {}

    public enum WriteError: Error, CustomStringConvertible, Equatable {
        case duplicate(String), sizeMismatch(String, expected: Int, found: Int), unsupported(String)
        public var description: String {
            switch self {
            case .duplicate(let n): return "tensor '\(n)' added twice"
            case .sizeMismatch(let n, let e, let f): return "tensor '\(n)': shape needs \(e) values, got \(f)"
            case .unsupported(let d): return "cannot write floats as \(d)"
            }
        }
    }

    /// Adds float values stored as F32, F16 or BF16 (round to nearest even).
    public mutating func add(_ name: String, shape: [Int], floats: [Float], as dtype: SafetensorsDType = .f32) throws {
        guard !entries.contains(where: { $0.name == name }) else { throw WriteError.duplicate(name) }
        let n = shape.reduce(1, *)
        guard n == floats.count else { throw WriteError.sizeMismatch(name, expected: n, found: floats.count) }
        var d = Data(capacity: n * dtype.byteSize)
        switch dtype {
        case .f32: for v in floats { withUnsafeBytes(of: v.bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        case .f16: for v in floats { withUnsafeBytes(of: Float16(v).bitPattern.littleEndian) { d.append(contentsOf: $0) } }
        case .bf16: for v in floats { withUnsafeBytes(of: bf16Bits(v).littleEndian) { d.append(contentsOf: $0) } }
        default: throw WriteError.unsupported(dtype.rawValue)
        }
        entries.append((name, dtype, shape, d))
    }

    /// Adds raw bytes of any dtype (the caller vouches for the layout).
    public mutating func add(_ name: String, dtype: SafetensorsDType, shape: [Int], bytes: Data) throws {
        guard !entries.contains(where: { $0.name == name }) else { throw WriteError.duplicate(name) }
        let n = shape.reduce(1, *) * dtype.byteSize
        guard n == bytes.count else { throw WriteError.sizeMismatch(name, expected: n, found: bytes.count) }
        entries.append((name, dtype, shape, bytes))
    }

    public func serialized() -> Data {
        var header = "{"
        var parts = [String]()
        if !metadata.isEmpty {
            let m = metadata.keys.sorted().map { "\(JSONText.quoted($0)):\(JSONText.quoted(metadata[$0]!))" }.joined(separator: ",")
            parts.append("\"__metadata__\":{\(m)}")
        }
        var offset = 0
        for e in entries {
            let end = offset + e.data.count
            parts.append("\(JSONText.quoted(e.name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":[\(e.shape.map(String.init).joined(separator: ","))],\"data_offsets\":[\(offset),\(end)]}")
            offset = end
        }
        header += parts.joined(separator: ",") + "}"
        var h = Data(header.utf8)
        while (8 + h.count) % 8 != 0 { h.append(0x20) }  // pad with spaces so tensor data is 8-byte aligned
        var out = Data()
        withUnsafeBytes(of: UInt64(h.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(h)
        for e in entries { out.append(e.data) }
        return out
    }

    public func write(to path: String) throws { try AtomicWrite.write(serialized(), to: path) }
}
