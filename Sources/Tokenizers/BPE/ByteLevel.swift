/// GPT-2's byte-level alphabet: every byte is written as a printable Unicode
/// scalar so that vocabularies can be stored as strings. Printable Latin-1
/// bytes stand for themselves; the other 68 map to U+0100 and up, in order
/// (so a space is "Ġ" and a newline "Ċ").
enum ByteLevel {
    /// byte -> scalar
    static let encodeTable: [Unicode.Scalar] = {
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (33...126).contains(b) || (161...172).contains(b) || (174...255).contains(b)
            if printable {
                table[b] = Unicode.Scalar(UInt32(b))!
            } else {
                table[b] = Unicode.Scalar(next)!
                next += 1
            }
        }
        return table
    }()

    /// scalar value -> byte (nil for scalars outside the alphabet)
    static let decodeTable: [UInt32: UInt8] = {
        var d = [UInt32: UInt8]()
        for (b, s) in encodeTable.enumerated() { d[s.value] = UInt8(b) }
        return d
    }()

    /// The byte-level string of raw bytes.
    static func encode<S: Sequence>(_ bytes: S) -> String where S.Element == UInt8 {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(encodeTable[Int(b)]) }
        return String(s)
    }

    /// The bytes of a byte-level string; nil if it holds a scalar outside the alphabet.
    static func decode(_ s: String) -> [UInt8]? {
        var out = [UInt8]()
        out.reserveCapacity(s.unicodeScalars.count)
        for u in s.unicodeScalars {
            guard let b = decodeTable[u.value] else { return nil }
            out.append(b)
        }
        return out
    }
}
