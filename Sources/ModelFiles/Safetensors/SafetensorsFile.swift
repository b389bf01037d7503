import Foundation

/// Element types of safetensors tensors.
public enum SafetensorsDType: String, Sendable, CaseIterable {
    case f64 = "F64", f32 = "F32", f16 = "F16", bf16 = "BF16"
    case i64 = "I64", i32 = "I32", i16 = "I16", i8 = "I8", u8 = "U8", bool = "BOOL"
    case f8e4m3 = "F8_E4M3", f8e5m2 = "F8_E5M2", u16 = "U16", u32 = "U32", u64 = "U64"

    public var byteSize: Int {
        switch self {
        case .f64, .i64, .u64: return 8
        case .f32, .i32, .u32: return 4
        case .f16, .bf16, .i16, .u16: return 2
        case .i8, .u8, .bool, .f8e4m3, .f8e5m2: return 1
        }
    }
}

public struct SafetensorsTensorInfo: Sendable, Equatable {
    public let name: String
    public let dtype: SafetensorsDType
    public let shape: [Int]
    /// Byte range within the data section (after the header).
    public let dataRange: Range<Int>
}

/// A memory-mapped safetensors file: an 8-byte little-endian header length, a JSON header
/// (`{"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}}`),
/// then the tensor bytes. Everything in the header is validated before any tensor is read.
///
/// ```swift
/// let f = try SafetensorsFile(path: "model.safetensors")
/// let w = try f.floats("temp_head.mlp.0.weight")   // F32/F16/BF16 -> [Float]
/// ```
public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let tensors: [String: SafetensorsTensorInfo]
    public let metadata: [String: String]
    private let mapping: MappedFile
    private let dataStart: Int

    public convenience init(path: String) throws { try self.init(mapping: MappedFile(path: path)) }

    public init(mapping: MappedFile) throws {
        self.mapping = mapping
        path = mapping.path
        let b = mapping.bytes
        guard b.count >= 8 else { throw SafetensorsError.tooSmall(path: path, size: b.count) }
        let n = b.loadUnaligned(fromByteOffset: 0, as: UInt64.self).littleEndian
        guard n >= 2, n <= UInt64(b.count - 8), n <= 100_000_000 else {
            throw SafetensorsError.badHeaderLength(path: path, length: n, fileSize: b.count)
        }
        dataStart = 8 + Int(n)
        let headerBytes = Data(UnsafeRawBufferPointer(rebasing: b[8..<dataStart]))
        let json: Any
        do { json = try JSONSerialization.jsonObject(with: headerBytes) } catch {
            throw SafetensorsError.badHeaderJSON(path: path, reason: "\(error.localizedDescription)")
        }
        guard let header = json as? [String: Any] else { throw SafetensorsError.badHeaderJSON(path: path, reason: "not a JSON object") }
        let available = b.count - dataStart
        var infos = [String: SafetensorsTensorInfo]()
        var meta = [String: String]()
        for (name, value) in header {
            if name == "__metadata__" {
                guard let m = value as? [String: Any] else { throw SafetensorsError.badEntry(path: path, tensor: name, reason: "not an object") }
                for (k, v) in m {
                    guard let s = v as? String else { throw SafetensorsError.badEntry(path: path, tensor: name, reason: "value of '\(k)' is not a string") }
                    meta[k] = s
                }
                continue
            }
            guard let e = value as? [String: Any] else { throw SafetensorsError.badEntry(path: path, tensor: name, reason: "not an object") }
            guard let ds = e["dtype"] as? String else { throw SafetensorsError.badEntry(path: path, tensor: name, reason: "missing 'dtype'") }
            guard let dtype = SafetensorsDType(rawValue: ds) else { throw SafetensorsError.unknownDType(path: path, tensor: name, dtype: ds) }
            guard let shapeAny = e["shape"] as? [Any] else { throw SafetensorsError.badEntry(path: path, tensor: name, reason: "missing 'shape'") }
            let shape = shapeAny.compactMap { Self.nonNegativeInt($0) }
            guard shape.count == shapeAny.count else { throw SafetensorsError.badEntry(path: path, tensor: name, reason: "shape \(shapeAny) is not a list of non-negative integers") }
            guard let offs = e["data_offsets"] as? [Any], offs.count == 2,
                  let begin = Self.nonNegativeInt(offs[0]), let end = Self.nonNegativeInt(offs[1]), begin <= end else {
                throw SafetensorsError.badEntry(path: path, tensor: name, reason: "data_offsets must be [begin, end] with 0 <= begin <= end")
            }
            var elements = 1
            for d in shape {
                let (m, overflow) = elements.multipliedReportingOverflow(by: d)
                guard !overflow, m <= 1 << 40 else { throw SafetensorsError.badEntry(path: path, tensor: name, reason: "shape \(shape) is absurdly large") }
                elements = m
            }
            guard elements * dtype.byteSize == end - begin else {
                throw SafetensorsError.sizeMismatch(path: path, tensor: name, shape: shape, dtype: ds, bytes: end - begin)
            }
            guard end <= available else { throw SafetensorsError.outOfBounds(path: path, tensor: name, end: end, available: available) }
            infos[name] = SafetensorsTensorInfo(name: name, dtype: dtype, shape: shape, dataRange: begin..<end)
        }
        let sorted = infos.values.filter { !$0.dataRange.isEmpty }.sorted { $0.dataRange.lowerBound < $1.dataRange.lowerBound }
        for (a, c) in zip(sorted, sorted.dropFirst()) where a.dataRange.upperBound > c.dataRange.lowerBound {
            throw SafetensorsError.overlap(path: path, first: a.name, second: c.name)
        }
        tensors = infos
        metadata = meta
    }

    private static func nonNegativeInt(_ v: Any) -> Int? {
        if let n = v as? Int, n >= 0 { return n }
        if let d = v as? Double, d >= 0, d == d.rounded(), d < 9e15 { return Int(d) }
        return nil
    }

    public func info(_ name: String) throws -> SafetensorsTensorInfo {
        guard let t = tensors[name] else { throw SafetensorsError.missingTensor(path: path, name: name) }
        return t
    }

    /// The raw bytes of a tensor (valid while this object lives).
    public func bytes(_ t: SafetensorsTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping.bytes[(dataStart + t.dataRange.lowerBound)..<(dataStart + t.dataRange.upperBound)])
    }

    /// A float tensor's values, converted from F32, F16 or BF16, in row-major order.
    public func floats(_ name: String) throws -> [Float] {
        let t = try info(name)
        let raw = bytes(t)
        let count = t.shape.reduce(1, *)
        var out = [Float](repeating: 0, count: count)
        guard let p = raw.baseAddress else { return out }
        switch t.dtype {
        case .f32: for i in 0..<count { out[i] = Float(bitPattern: UInt32(littleEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
        case .f16: for i in 0..<count { out[i] = Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
        case .bf16: for i in 0..<count { out[i] = Float(bitPattern: UInt32(UInt16(littleEndian: p.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) << 16) }
        default: throw SafetensorsError.unsupportedDType(path: path, tensor: name, dtype: t.dtype.rawValue)
        }
        return out
    }
}
