/// A GGUF metadata value. Arrays keep their element type so that a 49k-entry
/// token list is one `[String]`, not 49k enum boxes.
public enum GGUFValue: Sendable, Equatable {
    case uint8(UInt8), int8(Int8), uint16(UInt16), int16(Int16)
    case uint32(UInt32), int32(Int32), uint64(UInt64), int64(Int64)
    case float32(Float), float64(Double), bool(Bool), string(String)
    case array(GGUFArray)

    /// The value as an integer, if it is one of the integer types.
    public var intValue: Int? {
        switch self {
        case .uint8(let v): return Int(v)
        case .int8(let v): return Int(v)
        case .uint16(let v): return Int(v)
        case .int16(let v): return Int(v)
        case .uint32(let v): return Int(v)
        case .int32(let v): return Int(v)
        case .uint64(let v): return v <= UInt64(Int.max) ? Int(v) : nil
        case .int64(let v): return Int(v)
        default: return nil
        }
    }

    /// The value as a floating-point number (integers convert too).
    public var doubleValue: Double? {
        switch self {
        case .float32(let v): return Double(v)
        case .float64(let v): return v
        default: return intValue.map(Double.init)
        }
    }

    public var typeName: String {
        switch self {
        case .uint8: return "uint8"
        case .int8: return "int8"
        case .uint16: return "uint16"
        case .int16: return "int16"
        case .uint32: return "uint32"
        case .int32: return "int32"
        case .uint64: return "uint64"
        case .int64: return "int64"
        case .float32: return "float32"
        case .float64: return "float64"
        case .bool: return "bool"
        case .string: return "string"
        case .array(let a): return "array of \(a.elementTypeName)"
        }
    }
}

/// A homogeneous GGUF array.
public enum GGUFArray: Sendable, Equatable {
    case integers([Int64], type: GGUFValueType)
    case floats([Double], type: GGUFValueType)
    case bools([Bool])
    case strings([String])
    case arrays([GGUFArray])

    public var count: Int {
        switch self {
        case .integers(let v, _): return v.count
        case .floats(let v, _): return v.count
        case .bools(let v): return v.count
        case .strings(let v): return v.count
        case .arrays(let v): return v.count
        }
    }

    public var elementTypeName: String {
        switch self {
        case .integers(_, let t), .floats(_, let t): return t.name
        case .bools: return "bool"
        case .strings: return "string"
        case .arrays: return "array"
        }
    }
}

/// The on-disk type tags of GGUF metadata values.
public enum GGUFValueType: UInt32, Sendable {
    case uint8 = 0, int8, uint16, int16, uint32, int32, float32, bool, string, array, uint64, int64, float64

    public var name: String { String(describing: self) }

    /// Fixed byte size of a scalar of this type (nil for string and array).
    var scalarSize: Int? {
        switch self {
        case .uint8, .int8, .bool: return 1
        case .uint16, .int16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        case .string, .array: return nil
        }
    }
}
