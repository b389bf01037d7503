/// Loads of 16-bit floats from raw (possibly unaligned) bytes.
@inline(__always)
public func loadF16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)))
}

/// bfloat16 is the top half of a float32.
@inline(__always)
public func loadBF16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(bitPattern: UInt32(p.loadUnaligned(fromByteOffset: offset, as: UInt16.self)) << 16)
}

@inline(__always)
func storeF16(_ v: Float, _ p: UnsafeMutableRawPointer, _ offset: Int) {
    p.storeBytes(of: Float16(v).bitPattern, toByteOffset: offset, as: UInt16.self)
}

/// Round-to-nearest-even float32 -> bfloat16 bits.
@inline(__always)
public func bf16Bits(_ v: Float) -> UInt16 {
    let b = v.bitPattern
    if v.isNaN { return UInt16(b >> 16) | 0x40 }
    return UInt16((b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
}
