import Foundation
import Kernels

/// Writes GGUF v3 files: metadata in insertion order, tensors aligned to `general.alignment`
/// (32 unless set). Used by the tests to build tiny random models and deliberately broken files.
///
/// ```swift
/// var w = GGUFWriter()
/// w.set("general.architecture", .string("llama"))
/// try w.addTensor(name: "output_norm.weight", shape: [64], floats: ones, as: .f32)
/// try w.write(to: "/tmp/tiny.gguf")
/// ```
public struct GGUFWriter {
    private var keys: [String] = []
    private var values: [String: GGUFValue] = [:]
    private var tensors: [(name: String, shape: [Int], type: GGMLType, data: [UInt8])] = []

    public init() {}

    /// Sets (or replaces) a metadata value; keys keep the order of their first `set`.
    public mutating func set(_ key: String, _ value: GGUFValue) {
        if values[key] == nil { keys.append(key) }
        values[key] = value
    }

    /// Adds a tensor whose bytes are already in `type`'s layout. `shape` is in GGUF order
    /// (innermost dimension first: a [rows, cols] matrix is `[cols, rows]`).
    public mutating func addTensor(name: String, shape: [Int], type: GGMLType, data: [UInt8]) throws {
        guard !tensors.contains(where: { $0.name == name }) else { throw GGUFWriterError.duplicateTensor(name) }
        tensors.append((name, shape, type, data))
    }

    /// Quantizes `floats` (row-major, rows of `shape[0]` values) into `format` and adds them.
    public mutating func addTensor(name: String, shape: [Int], floats: [Float], as format: WeightFormat) throws {
        let cols = shape.first ?? 1
        guard floats.count == shape.reduce(1, *) else {
            throw GGUFWriterError.badTensor(name, "\(floats.count) values for shape \(shape)")
        }
        guard cols % format.block.values == 0 else {
            throw GGUFWriterError.badTensor(name, "row length \(cols) is not a multiple of the \(format) block size \(format.block.values)")
        }
        var bytes = [UInt8]()
        bytes.reserveCapacity(format.rowBytes(cols) * (floats.count / max(cols, 1)))
        var start = 0
        while start < floats.count {
            bytes += Quantizer.quantize(Array(floats[start..<(start + cols)]), to: format)
            start += cols
        }
        try addTensor(name: name, shape: shape, type: GGMLType(format), data: bytes)
    }

    /// The complete file image.
    public func serialized() -> [UInt8] {
        var out = ByteSink()
        out.raw(Array("GGUF".utf8))
        out.int(UInt32(3))
        out.int(UInt64(tensors.count))
        out.int(UInt64(keys.count))
        for key in keys {
            out.string(key)
            if let v = values[key] { out.value(v) }
        }
        let alignment = values["general.alignment"]?.intValue ?? 32
        var offset = 0
        for t in tensors {
            out.string(t.name)
            out.int(UInt32(t.shape.count))
            for d in t.shape { out.int(UInt64(d)) }
            out.int(t.type.rawValue)
            out.int(UInt64(offset))
            offset = (offset + t.data.count).roundedUp(to: alignment)
        }
        out.pad(to: alignment)
        for t in tensors {
            out.raw(t.data)
            out.pad(to: alignment)
        }
        return out.bytes
    }

    /// Writes the file atomically (a temporary file renamed into place).
    public func write(to path: String) throws {
        try Data(serialized()).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
}

public enum GGUFWriterError: Error, Equatable, CustomStringConvertible {
    case duplicateTensor(String)
    case badTensor(String, String)

    public var description: String {
        switch self {
        case .duplicateTensor(let n): return "GGUF writer: tensor '\(n)' added twice"
        case .badTensor(let n, let why): return "GGUF writer: tensor '\(n)': \(why)"
        }
    }
}

extension GGMLType {
    /// The GGUF tag of a weight format.
    public init(_ format: WeightFormat) {
        switch format {
        case .f32: self = .f32
        case .f16: self = .f16
        case .bf16: self = .bf16
        case .q4_0: self = .q4_0
        case .q4_1: self = .q4_1
        case .q8_0: self = .q8_0
        }
    }
}

private extension Int {
    func roundedUp(to a: Int) -> Int { (self + a - 1) / a * a }
}

/// Little-endian serialization of GGUF primitives.
private struct ByteSink {
    var bytes: [UInt8] = []

    mutating func raw(_ b: [UInt8]) { bytes += b }
    mutating func int<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { bytes += $0 } }
    mutating func string(_ s: String) { int(UInt64(s.utf8.count)); bytes += Array(s.utf8) }
    mutating func pad(to a: Int) { bytes += [UInt8](repeating: 0, count: bytes.count.roundedUp(to: a) - bytes.count) }

    mutating func value(_ v: GGUFValue) {
        switch v {
        case .uint8(let x): int(GGUFValueType.uint8.rawValue); int(x)
        case .int8(let x): int(GGUFValueType.int8.rawValue); int(x)
        case .uint16(let x): int(GGUFValueType.uint16.rawValue); int(x)
        case .int16(let x): int(GGUFValueType.int16.rawValue); int(x)
        case .uint32(let x): int(GGUFValueType.uint32.rawValue); int(x)
        case .int32(let x): int(GGUFValueType.int32.rawValue); int(x)
        case .uint64(let x): int(GGUFValueType.uint64.rawValue); int(x)
        case .int64(let x): int(GGUFValueType.int64.rawValue); int(x)
        case .float32(let x): int(GGUFValueType.float32.rawValue); int(x.bitPattern)
        case .float64(let x): int(GGUFValueType.float64.rawValue); int(x.bitPattern)
        case .bool(let x): int(GGUFValueType.bool.rawValue); int(UInt8(x ? 1 : 0))
        case .string(let s): int(GGUFValueType.string.rawValue); string(s)
        case .array(let a): int(GGUFValueType.array.rawValue); array(a)
        }
    }

    /// Element type, count, elements (nested arrays carry their own type and count).
    mutating func array(_ a: GGUFArray) {
        switch a {
        case .integers(let v, let t):
            int(t.rawValue); int(UInt64(v.count))
            for x in v { integer(x, as: t) }
        case .floats(let v, let t):
            int(t.rawValue); int(UInt64(v.count))
            for x in v { if t == .float64 { int(x.bitPattern) } else { int(Float(x).bitPattern) } }
        case .bools(let v):
            int(GGUFValueType.bool.rawValue); int(UInt64(v.count))
            for x in v { int(UInt8(x ? 1 : 0)) }
        case .strings(let v):
            int(GGUFValueType.string.rawValue); int(UInt64(v.count))
            for s in v { string(s) }
        case .arrays(let v):
            int(GGUFValueType.array.rawValue); int(UInt64(v.count))
            for x in v { array(x) }
        }
    }

    mutating func integer(_ x: Int64, as t: GGUFValueType) {
        switch t {
        case .uint8: int(UInt8(truncatingIfNeeded: x))
        case .int8: int(Int8(truncatingIfNeeded: x))
        case .uint16: int(UInt16(truncatingIfNeeded: x))
        case .int16: int(Int16(truncatingIfNeeded: x))
        case .uint32: int(UInt32(truncatingIfNeeded: x))
        case .int32: int(Int32(truncatingIfNeeded: x))
        case .uint64: int(UInt64(bitPattern: x))
        default: int(x)
        }
    }
}
