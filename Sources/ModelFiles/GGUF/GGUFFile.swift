/// One tensor's description in a GGUF file.
public struct GGUFTensorInfo: Sendable, Equatable {
    public let name: String
    /// Dimensions innermost first, as GGUF stores them: a [rows, cols] matrix is `[cols, rows]`.
    public let shape: [Int]
    public let type: GGMLType
    /// Offset from the start of the tensor-data section.
    public let offset: Int
    public let byteCount: Int

    public var elementCount: Int { shape.reduce(1, *) }
}

/// A parsed, validated, memory-mapped GGUF (v2/v3) file.
///
/// ```swift
/// let file = try GGUFFile(path: "model.gguf")
/// let layers = try file.int("llama.block_count")
/// let embd = try file.tensor("token_embd.weight")   // raw quantized bytes, in place
/// ```
public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let version: UInt32
    /// Metadata in file order.
    public let metadataKeys: [String]
    public let metadata: [String: GGUFValue]
    /// Tensor infos in file order.
    public let tensorInfos: [GGUFTensorInfo]
    public let alignment: Int
    /// Absolute file offset of the tensor-data section.
    public let dataOffset: Int

    private let mapping: MappedFile
    private let tensorIndex: [String: Int]

    static let magic: UInt32 = 0x4655_4747  // "GGUF" little-endian

    public convenience init(path: String) throws {
        try self.init(mapping: MappedFile(path: path))
    }

    public init(mapping: MappedFile) throws {
        self.mapping = mapping
        let path = mapping.path
        self.path = path
        var c = GGUFCursor(bytes: mapping.bytes, path: path)

        let magic = try c.read(UInt32.self, "magic")
        guard magic == Self.magic else { throw GGUFError.badMagic(path: path, found: magic) }
        version = try c.read(UInt32.self, "version")
        guard version == 2 || version == 3 else { throw GGUFError.unsupportedVersion(path: path, version: version) }
        // Smallest tensor info: name length (8) + n_dims (4) + one dim (8) + type (4) + offset (8).
        let tensorCount = try c.readCount("tensor count", minBytesEach: 32)
        // Smallest key/value: key length (8) + type (4) + one byte.
        let kvCount = try c.readCount("metadata key/value count", minBytesEach: 13)

        var keys = [String](), meta = [String: GGUFValue]()
        for i in 0..<kvCount {
            let key = try c.readString("metadata key #\(i)")
            let type = try c.read(UInt32.self, "value type of '\(key)'")
            let value = try c.readValue(type: type, key: key)
            guard meta[key] == nil else { throw GGUFError.duplicateKey(path: path, key: key) }
            keys.append(key); meta[key] = value
        }
        metadataKeys = keys; metadata = meta

        var align = 32
        if let a = meta["general.alignment"] {
            guard let v = a.intValue, v > 0, v & (v - 1) == 0, v <= 1 << 20 else {
                throw GGUFError.badAlignment(path: path, alignment: a.intValue ?? -1)
            }
            align = v
        }
        alignment = align

        var infos = [GGUFTensorInfo](), index = [String: Int]()
        for i in 0..<tensorCount {
            let name = try c.readString("name of tensor #\(i)")
            let nDims = try c.read(UInt32.self, "dimension count of '\(name)'")
            guard (1...4).contains(nDims) else {
                throw GGUFError.badTensorShape(path: path, tensor: name, reason: "\(nDims) dimensions (1 to 4 allowed)")
            }
            var shape = [Int](), elements = 1
            for _ in 0..<nDims {
                let d = try c.read(UInt64.self, "dimension of '\(name)'")
                guard d > 0, d < 1 << 40 else {
                    throw GGUFError.badTensorShape(path: path, tensor: name, reason: "dimension \(d) out of range")
                }
                let (m, overflow) = elements.multipliedReportingOverflow(by: Int(d))
                guard !overflow, m < 1 << 40 else {
                    throw GGUFError.badTensorShape(path: path, tensor: name, reason: "element count overflows")
                }
                elements = m; shape.append(Int(d))
            }
            let type = GGMLType(rawValue: try c.read(UInt32.self, "type of '\(name)'"))
            let offset = try c.read(UInt64.self, "data offset of '\(name)'")
            guard let layout = type.blockLayout else {
                throw GGUFError.unsupportedTensorType(path: path, tensor: name, type: type)
            }
            guard shape[0] % layout.values == 0 else {
                throw GGUFError.badTensorShape(path: path, tensor: name,
                    reason: "row length \(shape[0]) is not a multiple of the \(type) block size \(layout.values)")
            }
            guard offset < UInt64(1) << 48 else {
                throw GGUFError.tensorOutOfBounds(path: path, tensor: name, offset: Int(clamping: offset), size: 0, available: mapping.bytes.count)
            }
            guard Int(offset) % align == 0 else {
                throw GGUFError.misalignedTensor(path: path, tensor: name, offset: Int(offset), alignment: align)
            }
            guard index[name] == nil else { throw GGUFError.duplicateTensor(path: path, name: name) }
            index[name] = infos.count
            infos.append(GGUFTensorInfo(name: name, shape: shape, type: type, offset: Int(offset),
                                        byteCount: elements / layout.values * layout.bytes))
        }
        tensorInfos = infos; tensorIndex = index

        // The data section starts at the next multiple of the alignment.
        let start = (c.offset + align - 1) / align * align
        dataOffset = min(start, mapping.bytes.count)
        let available = mapping.bytes.count - dataOffset
        for t in infos where t.offset + t.byteCount > available {
            throw GGUFError.tensorOutOfBounds(path: path, tensor: t.name, offset: t.offset, size: t.byteCount, available: available)
        }
        let byOffset = infos.sorted { $0.offset < $1.offset }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteCount > b.offset {
            throw GGUFError.tensorsOverlap(path: path, first: a.name, second: b.name)
        }
    }

    // MARK: - Tensors

    public func info(_ name: String) throws -> GGUFTensorInfo {
        guard let i = tensorIndex[name] else { throw GGUFError.missingTensor(path: path, name: name) }
        return tensorInfos[i]
    }

    public func hasTensor(_ name: String) -> Bool { tensorIndex[name] != nil }

    /// The raw bytes of a tensor, in place in the mapping (valid while this file lives).
    public func tensorBytes(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: mapping.bytes[(dataOffset + info.offset)..<(dataOffset + info.offset + info.byteCount)])
    }

    /// A tensor checked against the shape (innermost first) the architecture expects.
    public func tensor(_ name: String, shape expected: [Int]? = nil) throws -> (info: GGUFTensorInfo, bytes: UnsafeRawBufferPointer) {
        let t = try info(name)
        if let expected, t.shape != expected {
            throw GGUFError.wrongTensorShape(path: path, name: name, expected: expected, found: t.shape)
        }
        return (t, tensorBytes(t))
    }

    public var fileSize: Int { mapping.bytes.count }
    public func adviseWillNeed() { mapping.adviseWillNeed() }

    // MARK: - Typed metadata

    public func value(_ key: String) throws -> GGUFValue {
        guard let v = metadata[key] else { throw GGUFError.missingKey(path: path, key: key) }
        return v
    }

    public func int(_ key: String) throws -> Int {
        let v = try value(key)
        guard let i = v.intValue else { throw GGUFError.wrongKeyType(path: path, key: key, expected: "an integer", found: v.typeName) }
        return i
    }

    public func int(_ key: String, default d: Int) throws -> Int { metadata[key] == nil ? d : try int(key) }

    public func double(_ key: String) throws -> Double {
        let v = try value(key)
        guard let x = v.doubleValue else { throw GGUFError.wrongKeyType(path: path, key: key, expected: "a number", found: v.typeName) }
        return x
    }

    public func double(_ key: String, default d: Double) throws -> Double { metadata[key] == nil ? d : try double(key) }

    public func string(_ key: String) throws -> String {
        let v = try value(key)
        guard case .string(let s) = v else { throw GGUFError.wrongKeyType(path: path, key: key, expected: "a string", found: v.typeName) }
        return s
    }

    public func bool(_ key: String, default d: Bool) throws -> Bool {
        guard let v = metadata[key] else { return d }
        guard case .bool(let b) = v else { throw GGUFError.wrongKeyType(path: path, key: key, expected: "a bool", found: v.typeName) }
        return b
    }

    public func strings(_ key: String) throws -> [String] {
        let v = try value(key)
        guard case .array(.strings(let s)) = v else { throw GGUFError.wrongKeyType(path: path, key: key, expected: "an array of strings", found: v.typeName) }
        return s
    }

    public func integers(_ key: String) throws -> [Int64] {
        let v = try value(key)
        guard case .array(.integers(let s, _)) = v else { throw GGUFError.wrongKeyType(path: path, key: key, expected: "an array of integers", found: v.typeName) }
        return s
    }
}
