/// Everything that can be wrong with a safetensors file or directory, with where it was found.
public enum SafetensorsError: Error, Equatable, CustomStringConvertible {
    case tooSmall(path: String, size: Int)
    case badHeaderLength(path: String, length: UInt64, fileSize: Int)
    case badHeaderJSON(path: String, reason: String)
    case badEntry(path: String, tensor: String, reason: String)
    case unknownDType(path: String, tensor: String, dtype: String)
    case sizeMismatch(path: String, tensor: String, shape: [Int], dtype: String, bytes: Int)
    case outOfBounds(path: String, tensor: String, end: Int, available: Int)
    case overlap(path: String, first: String, second: String)
    case missingTensor(path: String, name: String)
    case unsupportedDType(path: String, tensor: String, dtype: String)
    case duplicateTensor(path: String, name: String, otherFile: String)
    case badIndex(path: String, reason: String)
    case noFiles(directory: String)

    public var description: String {
        switch self {
        case .tooSmall(let p, let s): return "\(p): \(s) bytes is too small for a safetensors file (an 8-byte header length comes first)"
        case .badHeaderLength(let p, let l, let f): return "\(p): header length \(l) at offset 0 does not fit in the \(f)-byte file"
        case .badHeaderJSON(let p, let r): return "\(p): the JSON header (offset 8) is invalid: \(r)"
        case .badEntry(let p, let t, let r): return "\(p): header entry '\(t)': \(r)"
        case .unknownDType(let p, let t, let d): return "\(p): tensor '\(t)' has unknown dtype '\(d)'"
        case .sizeMismatch(let p, let t, let s, let d, let b):
            return "\(p): tensor '\(t)' of shape \(s) and dtype \(d) needs a different size than its data_offsets give (\(b) bytes)"
        case .outOfBounds(let p, let t, let e, let a): return "\(p): tensor '\(t)' ends at data byte \(e), past the \(a) bytes of data"
        case .overlap(let p, let a, let b): return "\(p): tensors '\(a)' and '\(b)' overlap"
        case .missingTensor(let p, let n): return "\(p): no tensor named '\(n)'"
        case .unsupportedDType(let p, let t, let d): return "\(p): tensor '\(t)' has dtype \(d); only F32, F16 and BF16 can be read as floats"
        case .duplicateTensor(let p, let n, let o): return "\(p): tensor '\(n)' is also in \(o)"
        case .badIndex(let p, let r): return "\(p): \(r)"
        case .noFiles(let d): return "\(d): no .safetensors files in this directory"
        }
    }
}
