// Small vectorised helpers the kernels share: dot products, sums of squares, maxima and a fast
// exp (Cephes-style range reduction + degree-6 polynomial, ~1 ulp over the float range).

@usableFromInline typealias V16 = SIMD16<Float>

public enum VectorMath {
    /// Σ a[i]·b[i].
    @inlinable
    public static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        var i = 0
        while i + 16 <= n {
            acc.addProduct(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self),
                           UnsafeRawPointer(b + i).loadUnaligned(as: SIMD16<Float>.self))
            i += 16
        }
        var s = acc.sum()
        while i < n { s += a[i] * b[i]; i += 1 }
        return s
    }

    /// Σ a[i]².
    @inlinable
    public static func sumOfSquares(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
        dot(a, a, n)
    }

    /// max a[i] (n ≥ 1).
    @inlinable
    public static func max(_ a: UnsafePointer<Float>, _ n: Int) -> Float {
        var m = -Float.infinity
        var i = 0
        if n >= 16 {
            var acc = SIMD16<Float>(repeating: -.infinity)
            while i + 16 <= n {
                acc = pointwiseMax(acc, UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self))
                i += 16
            }
            m = acc.max()
        }
        while i < n { m = Swift.max(m, a[i]); i += 1 }
        return m
    }

    /// out[i] = exp(a[i] − shift); returns Σ out[i]. `out` may equal `a`.
    @inlinable
    public static func expShifted(_ out: UnsafeMutablePointer<Float>, _ a: UnsafePointer<Float>, shift: Float, _ n: Int) -> Float {
        var acc = SIMD16<Float>(repeating: 0)
        let s = SIMD16<Float>(repeating: shift)
        var i = 0
        while i + 16 <= n {
            let e = exp16(UnsafeRawPointer(a + i).loadUnaligned(as: SIMD16<Float>.self) - s)
            UnsafeMutableRawPointer(out + i).storeBytes(of: e, as: SIMD16<Float>.self)
            acc += e
            i += 16
        }
        var sum = acc.sum()
        while i < n {
            let e = exp(a[i] - shift)
            out[i] = e
            sum += e
            i += 1
        }
        return sum
    }

    /// a[i] *= c.
    @inlinable
    public static func scale(_ a: UnsafeMutablePointer<Float>, _ c: Float, _ n: Int) {
        for i in 0..<n { a[i] *= c }
    }

    /// exp(x) for one float, same algorithm as `exp16`.
    @inlinable
    public static func exp(_ x: Float) -> Float {
        exp16(SIMD16<Float>(repeating: x))[0]
    }

    /// Vectorised exp: x = n·ln2 + r, |r| ≤ ln2/2, exp(r) by polynomial, scaled by 2ⁿ.
    /// Inputs below −87.3 give 0 (subnormals flushed); above 88.7 give +inf.
    @inlinable
    public static func exp16(_ xIn: SIMD16<Float>) -> SIMD16<Float> {
        let hi = SIMD16<Float>(repeating: 88.72283)
        let lo = SIMD16<Float>(repeating: -87.33654)
        var x = pointwiseMin(xIn, hi)
        x = pointwiseMax(x, lo)
        let log2e = SIMD16<Float>(repeating: 1.442695040888963)
        var fx = x * log2e
        fx = fx.rounded(.toNearestOrEven)
        // r = x − n·ln2 in two parts for accuracy.
        x = x - fx * SIMD16<Float>(repeating: 0.693359375)
        x = x + fx * SIMD16<Float>(repeating: 2.12194440e-4)
        var y = SIMD16<Float>(repeating: 1.9875691500e-4)
        y = y * x + SIMD16<Float>(repeating: 1.3981999507e-3)
        y = y * x + SIMD16<Float>(repeating: 8.3334519073e-3)
        y = y * x + SIMD16<Float>(repeating: 4.1665795894e-2)
        y = y * x + SIMD16<Float>(repeating: 1.6666665459e-1)
        y = y * x + SIMD16<Float>(repeating: 5.0000001201e-1)
        y = y * (x * x) + x + SIMD16<Float>(repeating: 1)
        // 2ⁿ via the exponent bits; n ∈ [−126, 128]: split so both halves are normal.
        let n = SIMD16<Int32>(fx, rounding: .toNearestOrEven)
        let n1 = n &>> 1
        let n2 = n &- n1
        let p1 = unsafeBitCast((n1 &+ 127) &<< 23, to: SIMD16<Float>.self)
        let p2 = unsafeBitCast((n2 &+ 127) &<< 23, to: SIMD16<Float>.self)
        var r = y * p1 * p2
        r.replace(with: SIMD16<Float>(repeating: 0), where: xIn .< lo)
        r.replace(with: SIMD16<Float>(repeating: .infinity), where: xIn .> hi)
        r.replace(with: xIn, where: xIn .!= xIn)
        return r
    }

    /// Logistic sigmoid 1/(1+exp(−x)), vectorised.
    @inlinable
    public static func sigmoid16(_ x: SIMD16<Float>) -> SIMD16<Float> {
        SIMD16<Float>(repeating: 1) / (SIMD16<Float>(repeating: 1) + exp16(-x))
    }
}
