/// Everything that can be wrong with a GGUF file, with where it was found.
public enum GGUFError: Error, CustomStringConvertible, Equatable {
    case badMagic(path: String, found: UInt32)
    case unsupportedVersion(path: String, version: UInt32)
    case truncated(path: String, offset: Int, needed: Int, what: String)
    case absurdCount(path: String, offset: Int, count: UInt64, what: String)
    case badValueType(path: String, offset: Int, type: UInt32, key: String)
    case invalidUTF8(path: String, offset: Int, what: String)
    case duplicateKey(path: String, key: String)
    case duplicateTensor(path: String, name: String)
    case badAlignment(path: String, alignment: Int)
    case badTensorShape(path: String, tensor: String, reason: String)
    case unsupportedTensorType(path: String, tensor: String, type: GGMLType)
    case tensorOutOfBounds(path: String, tensor: String, offset: Int, size: Int, available: Int)
    case tensorsOverlap(path: String, first: String, second: String)
    case misalignedTensor(path: String, tensor: String, offset: Int, alignment: Int)
    case missingKey(path: String, key: String)
    case wrongKeyType(path: String, key: String, expected: String, found: String)
    case missingTensor(path: String, name: String)
    case wrongTensorShape(path: String, name: String, expected: [Int], found: [Int])
    case wrongTensorType(path: String, name: String, expected: String, found: GGMLType)

    public var description: String {
        switch self {
        case .badMagic(let p, let m):
            return "\(p): not a GGUF file (magic 0x\(String(m, radix: 16)) at offset 0, expected \"GGUF\")"
        case .unsupportedVersion(let p, let v):
            return "\(p): unsupported GGUF version \(v) (this reader handles versions 2 and 3)"
        case .truncated(let p, let o, let n, let w):
            return "\(p): file truncated: \(w) needs \(n) bytes at offset \(o), past the end of the file"
        case .absurdCount(let p, let o, let c, let w):
            return "\(p): corrupt file: \(w) = \(c) at offset \(o) cannot fit in the file"
        case .badValueType(let p, let o, let t, let k):
            return "\(p): unknown metadata value type \(t) for key '\(k)' at offset \(o)"
        case .invalidUTF8(let p, let o, let w):
            return "\(p): \(w) at offset \(o) is not valid UTF-8"
        case .duplicateKey(let p, let k): return "\(p): metadata key '\(k)' appears twice"
        case .duplicateTensor(let p, let n): return "\(p): tensor '\(n)' appears twice"
        case .badAlignment(let p, let a): return "\(p): general.alignment = \(a) is not a power of two"
        case .badTensorShape(let p, let t, let r): return "\(p): tensor '\(t)': \(r)"
        case .unsupportedTensorType(let p, let t, let ty):
            return "\(p): unsupported tensor type \(ty) in tensor '\(t)' (supported: F32, F16, BF16, Q8_0, Q4_0, Q4_1)"
        case .tensorOutOfBounds(let p, let t, let o, let s, let a):
            return "\(p): tensor '\(t)' data (\(s) bytes at data offset \(o)) lies beyond the end of the file (\(a) bytes of tensor data)"
        case .tensorsOverlap(let p, let a, let b): return "\(p): the data of tensors '\(a)' and '\(b)' overlap"
        case .misalignedTensor(let p, let t, let o, let a):
            return "\(p): tensor '\(t)' data offset \(o) is not a multiple of the alignment \(a)"
        case .missingKey(let p, let k): return "\(p): required metadata key '\(k)' is missing"
        case .wrongKeyType(let p, let k, let e, let f): return "\(p): metadata key '\(k)' should be \(e) but is \(f)"
        case .missingTensor(let p, let n): return "\(p): required tensor '\(n)' is missing"
        case .wrongTensorShape(let p, let n, let e, let f):
            return "\(p): tensor '\(n)' has shape \(f), expected \(e) for this architecture"
        case .wrongTensorType(let p, let n, let e, let f):
            return "\(p): tensor '\(n)' has type \(f), expected \(e)"
        }
    }
}
