/// A bounds-checked little-endian cursor over the bytes of a GGUF file.
/// Every read checks the remaining length first, so a truncated or corrupt
/// file throws instead of reading out of bounds.
struct GGUFCursor {
    let bytes: UnsafeRawBufferPointer
    let path: String
    var offset = 0

    var remaining: Int { bytes.count - offset }

    mutating func need(_ n: Int, _ what: @autoclosure () -> String) throws {
        guard n >= 0, n <= remaining else {
            throw GGUFError.truncated(path: path, offset: offset, needed: n, what: what())
        }
    }

    mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: @autoclosure () -> String) throws -> T {
        try need(MemoryLayout<T>.size, what())
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    /// A count that must describe at least `minBytesEach` bytes per item still in the file.
    mutating func readCount(_ what: @autoclosure () -> String, minBytesEach: Int) throws -> Int {
        let start = offset
        let n = try read(UInt64.self, what())
        let limit = UInt64(remaining / max(minBytesEach, 1))
        guard n <= limit else { throw GGUFError.absurdCount(path: path, offset: start, count: n, what: what()) }
        return Int(n)
    }

    mutating func readString(_ what: @autoclosure () -> String) throws -> String {
        let n = try readCount("length of \(what())", minBytesEach: 1)
        let start = offset
        let raw = UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)])
        offset += n
        guard let s = String(validating: raw.bindMemory(to: UInt8.self), as: UTF8.self) else {
            throw GGUFError.invalidUTF8(path: path, offset: start, what: what())
        }
        return s
    }

    mutating func readValue(type raw: UInt32, key: String, depth: Int = 0) throws -> GGUFValue {
        guard let type = GGUFValueType(rawValue: raw) else {
            throw GGUFError.badValueType(path: path, offset: offset - 4, type: raw, key: key)
        }
        switch type {
        case .uint8: return .uint8(try read(UInt8.self, key))
        case .int8: return .int8(try read(Int8.self, key))
        case .uint16: return .uint16(try read(UInt16.self, key))
        case .int16: return .int16(try read(Int16.self, key))
        case .uint32: return .uint32(try read(UInt32.self, key))
        case .int32: return .int32(try read(Int32.self, key))
        case .uint64: return .uint64(try read(UInt64.self, key))
        case .int64: return .int64(try read(Int64.self, key))
        case .float32: return .float32(Float(bitPattern: try read(UInt32.self, key)))
        case .float64: return .float64(Double(bitPattern: try read(UInt64.self, key)))
        case .bool: return .bool(try read(UInt8.self, key) != 0)
        case .string: return .string(try readString("value of '\(key)'"))
        case .array: return .array(try readArray(key: key, depth: depth))
        }
    }

    mutating func readArray(key: String, depth: Int) throws -> GGUFArray {
        guard depth < 8 else {
            throw GGUFError.absurdCount(path: path, offset: offset, count: UInt64(depth), what: "array nesting depth of '\(key)'")
        }
        let rawType = try read(UInt32.self, "array type of '\(key)'")
        guard let type = GGUFValueType(rawValue: rawType) else {
            throw GGUFError.badValueType(path: path, offset: offset - 4, type: rawType, key: key)
        }
        // Strings take at least their 8-byte length, arrays their 12-byte header.
        let minSize = type.scalarSize ?? (type == .string ? 8 : 12)
        let n = try readCount("element count of array '\(key)'", minBytesEach: minSize)
        switch type {
        case .string:
            var out = [String](); out.reserveCapacity(n)
            for i in 0..<n { out.append(try readString("element \(i) of '\(key)'")) }
            return .strings(out)
        case .bool:
            var out = [Bool](); out.reserveCapacity(n)
            for _ in 0..<n { out.append(try read(UInt8.self, key) != 0) }
            return .bools(out)
        case .float32, .float64:
            var out = [Double](); out.reserveCapacity(n)
            for _ in 0..<n {
                if type == .float32 { out.append(Double(Float(bitPattern: try read(UInt32.self, key)))) }
                else { out.append(Double(bitPattern: try read(UInt64.self, key))) }
            }
            return .floats(out, type: type)
        case .array:
            var out = [GGUFArray](); out.reserveCapacity(n)
            // Each element is itself (element type, count, items).
            for _ in 0..<n { out.append(try readArray(key: key, depth: depth + 1)) }
            return .arrays(out)
        default:
            var out = [Int64](); out.reserveCapacity(n)
            for _ in 0..<n {
                switch type {
                case .uint8: out.append(Int64(try read(UInt8.self, key)))
                case .int8: out.append(Int64(try read(Int8.self, key)))
                case .uint16: out.append(Int64(try read(UInt16.self, key)))
                case .int16: out.append(Int64(try read(Int16.self, key)))
                case .uint32: out.append(Int64(try read(UInt32.self, key)))
                case .int32: out.append(Int64(try read(Int32.self, key)))
                case .uint64: out.append(Int64(bitPattern: try read(UInt64.self, key)))
                default: out.append(try read(Int64.self, key))
                }
            }
            return .integers(out, type: type)
        }
    }
}
