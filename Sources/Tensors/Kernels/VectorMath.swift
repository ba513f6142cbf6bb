// Small vectorised helpers the kernels share: dot products, sums of squares, maxima and a fast
// exp (Cephes-style range reduction + degree-6 polynomial with fused multiply-adds, ~1 ulp over
// the float range), with a leaner variant for the non-positive arguments of softmax.

@usableFromInline typealias V16 = SIMD16<Float>

public enum VectorMath {
    /// Σ a[i]·b[i].
    @inlinable @inline(__always)
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= n {
            acc += UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self)
                * UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self)
            i += 16
        }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// Σ a[i]².
    @inlinable @inline(__always)
    public static func sumOfSquares(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
        dot(a, a, n)
    }

    /// max a[i] (n ≥ 1), up to rounding: lanes combine as (x + y + |x − y|)/2, which the compiler
    /// vectorises (Swift's generic pointwiseMax does not). Callers only use it as a softmax shift.
    @inlinable @inline(__always)
    public static func max(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = -Float.greatestFiniteMagnitude
        var i = 0
        if n >= 16 {
            var acc = UnsafeRawPointer(a).loadUnaligned(as: SIMD16<Float>.self)
            i = 16
            while i + 16 <= n {
                acc = roughMax(acc, UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self))
                i += 16
            }
            for j in 0..<16 where acc[j] > m { m = acc[j] }
        }
        while i < n { if a[i] > m { m = a[i] }; i += 1 }
        return m
    }

    /// Lanewise `t < 0 ? a : b` from the sign bit of t (bit operations the compiler vectorises).
    @inlinable @inline(__always)
    static func select(_ t: SIMD16<Float>, _ a: SIMD16<Float>, _ b: SIMD16<Float>) -> SIMD16<Float> {
        let mask = unsafeBitCast(t, to: SIMD16<Int32>.self) &>> 31
        let bits = (unsafeBitCast(a, to: SIMD16<Int32>.self) & mask) | (unsafeBitCast(b, to: SIMD16<Int32>.self) & ~mask)
        return unsafeBitCast(bits, to: SIMD16<Float>.self)
    }

    @inlinable @inline(__always)
    static func roughMax(_ x: SIMD16<Float>, _ y: SIMD16<Float>) -> SIMD16<Float> {
        let d = x - y
        let absD = unsafeBitCast(unsafeBitCast(d, to: SIMD16<UInt32>.self) & SIMD16<UInt32>(repeating: 0x7FFF_FFFF), to: SIMD16<Float>.self)
        return (x + y + absD) * SIMD16<Float>(repeating: 0.5)
    }

    /// out[i] = exp(a[i] − shift); returns Σ out[i]. `out` may equal `a`. shift ≥ max a[i] (up to
    /// rounding): the arguments are ≤ 0.
    @inlinable @inline(__always)
    public static func expShifted(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, shift: Float, _ n: Int) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        let s = SIMD16<Float>(repeating: shift)
        var i = 0
        while i + 16 <= n {
            let e = expNonPositive16(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) - s)
            UnsafeMutableRawPointer(out + i).storeBytes(of: e, as: SIMD16<Float>.self)
            acc += e
            i += 16
        }
        var sum = acc.sum()
        while i < n {
            let e = expNonPositive(a[i] - shift)
            out[i] = e
            sum += e
            i += 1
        }
        return sum
    }

    /// a[i] *= c.
    @inlinable @inline(__always)
    public static func scale(_ a: UnsafeMutablePointer<Float>, _ c: Float, _ n: Int) {
        for i in 0..<n { a[i] *= c }
    }

    /// exp(x) for one float, same algorithm as `expNonPositive16`.
    @inlinable @inline(__always)
    public static func expNonPositive(_ x: Float) -> Float {
        expNonPositive16(SIMD16<Float>(repeating: x))[0]
    }

    /// exp(x) for x ≤ 0 (and a little above: anything below 88), the shifted arguments of softmax
    /// and cross-entropy: only the lower clamp (results ≥ 1.2e−38; the kernels add such values to
    /// sums ≥ 1) and a single 2ⁿ factor.
    @inlinable @inline(__always)
    public static func expNonPositive16(_ xIn: SIMD16<Float>) -> SIMD16<Float> {
        let lo = SIMD16<Float>(repeating: -87.33654)
        let (y, n) = expReduced(select(xIn - lo, lo, xIn))
        return y * unsafeBitCast((n &+ 127) &<< 23, to: SIMD16<Float>.self)
    }

    /// exp(x) = y·2ⁿ for x in [−87.3, 88.7]: x = n·ln2 + r, |r| ≤ ln2/2 (Cody–Waite, two parts),
    /// exp(r) by a degree-6 polynomial (Cephes coefficients), fused multiply-adds throughout.
    @inlinable @inline(__always)
    static func expReduced(_ x: SIMD16<Float>) -> (SIMD16<Float>, SIMD16<Int32>) {
        // n = round(x·log2e) with the 1.5·2²³ trick: adding it leaves n in the low mantissa bits.
        let magic = SIMD16<Float>(repeating: 12_582_912)
        let t = magic.addingProduct(x, SIMD16<Float>(repeating: 1.442695040888963))
        let fx = t - magic
        let n = unsafeBitCast(t, to: SIMD16<Int32>.self) &- SIMD16<Int32>(repeating: 0x4B40_0000)
        var r = x.addingProduct(fx, SIMD16<Float>(repeating: -0.693359375))
        r = r.addingProduct(fx, SIMD16<Float>(repeating: 2.12194440e-4))
        var y = SIMD16<Float>(repeating: 1.3981999507e-3).addingProduct(SIMD16<Float>(repeating: 1.9875691500e-4), r)
        y = SIMD16<Float>(repeating: 8.3334519073e-3).addingProduct(y, r)
        y = SIMD16<Float>(repeating: 4.1665795894e-2).addingProduct(y, r)
        y = SIMD16<Float>(repeating: 1.6666665459e-1).addingProduct(y, r)
        y = SIMD16<Float>(repeating: 5.0000001201e-1).addingProduct(y, r)
        y = r.addingProduct(y, r * r) + SIMD16<Float>(repeating: 1)
        return (y, n)
    }

    /// √x for x ≥ 0 by three Newton steps on 1/√x from the bit-level first guess: within 2 ulp,
    /// and vectorised (Swift's SIMD squareRoot() becomes one libm call per lane).
    @inlinable @inline(__always)
    public static func sqrt16(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let bits = SIMD16<Int32>(repeating: 0x5F37_5A86) &- (unsafeBitCast(x, to: SIMD16<Int32>.self) &>> 1)
        var y = unsafeBitCast(bits, to: SIMD16<Float>.self)
        let half = x * 0.5
        let threeHalves = SIMD16<Float>(repeating: 1.5)
        y = y * (threeHalves - half * y * y)
        y = y * (threeHalves - half * y * y)
        y = y * (threeHalves - half * y * y)
        return x * y
    }

    /// Logistic sigmoid, vectorised: with e = exp(−|x|) ∈ (0, 1], σ(x) = 1/(1+e) for x ≥ 0 and
    /// e/(1+e) below (no overflow, and the cheaper exp of a non-positive argument).
    @inlinable @inline(__always)
    public static func sigmoid16(_ x: SIMD16<Float>) -> SIMD16<Float> {
        let magnitude = unsafeBitCast(unsafeBitCast(x, to: SIMD16<UInt32>.self) | SIMD16<UInt32>(repeating: 0x8000_0000),
                                      to: SIMD16<Float>.self)   // −|x|
        let e = expNonPositive16(magnitude)
        let s = SIMD16<Float>(repeating: 1) / (SIMD16<Float>(repeating: 1) + e)
        return select(x, e * s, s)
    }
}
