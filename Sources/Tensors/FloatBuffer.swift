// f32 compute buffers: owned (heap, 64-byte aligned, zero-filled) or borrowed read-only from an
// f32 `Tensor` (e.g. a memory-mapped store object). Narrow float dtypes are converted on load.

/// A contiguous run of `count` Floats. The base pointer is valid for the buffer's lifetime; code
/// that takes `pointer` keeps the buffer alive (a stored property of the caller, or
/// `withExtendedLifetime`) for as long as it uses it.
public final class FloatBuffer: @unchecked Sendable {
    public let count: Int
    public let isMutable: Bool
    private let base: UnsafeMutablePointer<Float>
    private let owner: AnyObject?

    /// Owned, zero-filled memory for `count` floats.
    public init(count: Int) {
        precondition(count >= 0, "negative element count")
        self.count = count
        self.isMutable = true
        self.owner = nil
        let raw = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1) * 4, alignment: 64)
        base = raw.bindMemory(to: Float.self, capacity: max(count, 1))
        base.initialize(repeating: 0, count: max(count, 1))
    }

    /// Owned copy of `values`.
    public convenience init(_ values: [Float]) {
        self.init(count: values.count)
        values.withUnsafeBufferPointer { src in
            if let s = src.baseAddress { base.update(from: s, count: src.count) }
        }
    }

    /// Read-only view of an f32 tensor's bytes (zero-copy; keeps the tensor's buffer alive).
    /// Returns nil when the tensor is not f32 or its bytes are not 4-byte aligned.
    public init?(borrowing tensor: Tensor) {
        guard tensor.dtype == .f32 else { return nil }
        let pointer: UnsafeMutablePointer<Float>? = tensor.buffer.withUnsafeBytes { raw in
            guard let b = raw.baseAddress, Int(bitPattern: b) % 4 == 0 else { return nil }
            return UnsafeMutablePointer(mutating: b.assumingMemoryBound(to: Float.self))
        }
        guard let pointer else { return nil }
        count = tensor.elementCount
        isMutable = false
        base = pointer
        owner = tensor.buffer
    }

    deinit {
        if owner == nil { base.deallocate() }
    }

    /// An owned f32 copy of a float tensor (f32, bf16, f16, f8), converting narrow formats.
    public static func converting(_ tensor: Tensor) -> FloatBuffer? {
        guard tensor.dtype.isFloatingPoint else { return nil }
        let out = FloatBuffer(count: tensor.elementCount)
        let dst = out.base
        tensor.buffer.withUnsafeBytes { raw in
            let n = tensor.elementCount
            switch tensor.dtype {
            case .f32:
                if n > 0 { UnsafeMutableRawPointer(dst).copyMemory(from: raw.baseAddress!, byteCount: n * 4) }
            case .bf16:
                for i in 0..<n { dst[i] = bfloat16ToFloat(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            case .f16:
                for i in 0..<n { dst[i] = halfToFloat(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)) }
            case .f64:
                for i in 0..<n { dst[i] = Float(raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            case .f8e4m3:
                for i in 0..<n { dst[i] = fp8E4M3ToFloat(raw[i]) }
            case .f8e5m2:
                for i in 0..<n { dst[i] = fp8E5M2ToFloat(raw[i]) }
            default:
                break
            }
        }
        return out
    }

    /// The base pointer; see the type's note on lifetime.
    public var pointer: UnsafeMutablePointer<Float> {
        precondition(isMutable, "write access to a read-only (borrowed) float buffer")
        return base
    }

    public var readPointer: UnsafePointer<Float> { UnsafePointer(base) }

    public subscript(i: Int) -> Float {
        get {
            precondition(i >= 0 && i < count, "index \(i) out of range 0..<\(count)")
            return base[i]
        }
        set {
            precondition(isMutable && i >= 0 && i < count, "index \(i) out of range or read-only")
            base[i] = newValue
        }
    }

    public var array: [Float] { Array(UnsafeBufferPointer(start: base, count: count)) }

    public func array(offset: Int, count n: Int) -> [Float] {
        precondition(offset >= 0 && n >= 0 && offset + n <= count)
        return Array(UnsafeBufferPointer(start: base + offset, count: n))
    }

    public func fill(_ value: Float) {
        pointer.update(repeating: value, count: count)
    }

    public func zero() { fill(0) }

    /// Copies all of `other` (same count) into this buffer.
    public func copy(from other: FloatBuffer) {
        precondition(other.count == count, "copy between buffers of \(other.count) and \(count) floats")
        pointer.update(from: other.base, count: count)
    }

    /// An owned copy.
    public func clone() -> FloatBuffer {
        let c = FloatBuffer(count: count)
        c.base.update(from: base, count: count)
        return c
    }

    /// A read-only f32 `Tensor` view of `shape` elements from `offset` (no copy: it keeps this
    /// buffer alive and sees later writes to it; store or write it before changing the buffer).
    public func tensor(shape: [Int], offset: Int = 0) -> Tensor {
        let n = shapeElementCount(shape)!
        precondition(offset >= 0 && offset + n <= count)
        let bytes = ByteBuffer(borrowing: UnsafeRawBufferPointer(start: base + offset, count: n * 4), owner: self)
        return Tensor(dtype: .f32, shape: shape, buffer: bytes)
    }
}
