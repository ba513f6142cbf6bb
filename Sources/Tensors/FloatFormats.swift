// Conversions from the narrow float formats of stored weights to Float (IEEE binary16, bfloat16,
// OCP FP8 E4M3FN and E5M2). Round-to-nearest-even on the way down.

@inlinable public func bfloat16ToFloat(_ bits: UInt16) -> Float {
    Float(bitPattern: UInt32(bits) << 16)
}

@inlinable public func floatToBFloat16(_ x: Float) -> UInt16 {
    let b = x.bitPattern
    if x.isNaN { return UInt16(truncatingIfNeeded: (b >> 16) | 0x40) }
    let rounding = UInt32(0x7FFF) + ((b >> 16) & 1)
    return UInt16(truncatingIfNeeded: (b &+ rounding) >> 16)
}

@inlinable public func halfToFloat(_ bits: UInt16) -> Float {
    let sign = UInt32(bits & 0x8000) << 16
    let exponent = Int((bits >> 10) & 0x1F)
    let mantissa = UInt32(bits & 0x3FF)
    if exponent == 0 {
        // zero or subnormal: mantissa * 2^-24
        let magnitude = Float(mantissa) * Float(sign: .plus, exponent: -24, significand: 1)
        return sign != 0 ? -magnitude : magnitude
    }
    if exponent == 31 {
        return Float(bitPattern: sign | 0x7F80_0000 | (mantissa << 13))
    }
    return Float(bitPattern: sign | UInt32(exponent + 112) << 23 | (mantissa << 13))
}

@inlinable public func floatToHalf(_ x: Float) -> UInt16 {
    #if arch(arm64)
    return Float16(x).bitPattern
    #else
    let b = x.bitPattern
    let sign = UInt16((b >> 16) & 0x8000)
    let exponent = Int((b >> 23) & 0xFF)
    var mantissa = b & 0x7F_FFFF
    if exponent == 0xFF { return sign | 0x7C00 | (mantissa != 0 ? 0x200 : 0) }
    let e = exponent - 127 + 15
    if e >= 31 { return sign | 0x7C00 }
    if e <= 0 {
        if e < -10 { return sign }
        mantissa |= 0x80_0000
        let shift = UInt32(14 - e)
        var half = mantissa >> shift
        let remainder = mantissa & ((1 << shift) - 1)
        let halfway = UInt32(1) << (shift - 1)
        if remainder > halfway || (remainder == halfway && (half & 1) == 1) { half += 1 }
        return sign | UInt16(half)
    }
    var half = UInt32(e) << 10 | (mantissa >> 13)
    let remainder = mantissa & 0x1FFF
    if remainder > 0x1000 || (remainder == 0x1000 && (half & 1) == 1) { half += 1 }
    return sign | UInt16(truncatingIfNeeded: half)
    #endif
}

@inlinable public func fp8E4M3ToFloat(_ bits: UInt8) -> Float {
    let negative = bits & 0x80 != 0
    let exponent = Int((bits >> 3) & 0xF)
    let mantissa = Float(bits & 0x7)
    let magnitude: Float
    if exponent == 0xF && bits & 0x7 == 0x7 { return .nan }
    if exponent == 0 {
        magnitude = mantissa / 8 * Float(sign: .plus, exponent: -6, significand: 1)
    } else {
        magnitude = (1 + mantissa / 8) * Float(sign: .plus, exponent: exponent - 7, significand: 1)
    }
    return negative ? -magnitude : magnitude
}

@inlinable public func fp8E5M2ToFloat(_ bits: UInt8) -> Float {
    halfToFloat(UInt16(bits) << 8)
}
