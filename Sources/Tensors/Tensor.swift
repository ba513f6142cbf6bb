// A tensor as stored: dtype, shape and the bytes behind it (row-major, little-endian).
// Compute code converts to f32 buffers; this type is what crosses the store boundary.

public struct Tensor: Sendable {
    public let dtype: DType
    public let shape: [Int]
    public let buffer: ByteBuffer

    public init(dtype: DType, shape: [Int], buffer: ByteBuffer) {
        precondition(shapeElementCount(shape).map { $0 * dtype.size } == buffer.count,
                     "tensor bytes \(buffer.count) do not match \(dtype.rawValue)\(shape)")
        self.dtype = dtype
        self.shape = shape
        self.buffer = buffer
    }

    public var elementCount: Int { shapeElementCount(shape)! }
    public var byteCount: Int { buffer.count }

    /// An f32 tensor owning a copy of `values`.
    public init(f32 values: [Float], shape: [Int]) {
        self.init(values: values, dtype: .f32, shape: shape)
    }

    /// A tensor owning a copy of `values` (a fixed-width integer or float type matching `dtype`),
    /// 1-D unless a shape is given.
    public init<T: BitwiseCopyable>(values: [T], dtype: DType, shape: [Int]? = nil) {
        precondition(MemoryLayout<T>.size == dtype.size, "\(T.self) is not \(dtype.rawValue)")
        let buffer = values.withUnsafeBytes { ByteBuffer(copying: $0) }
        self.init(dtype: dtype, shape: shape ?? [values.count], buffer: buffer)
    }

    /// Elements converted to Double (float and integer dtypes); for diffs and statistics.
    public func forEachDouble(_ body: (Int, Double) -> Void) {
        buffer.withUnsafeBytes { raw in
            let n = elementCount
            switch dtype {
            case .f32: for i in 0..<n { body(i, Double(raw.loadUnaligned(fromByteOffset: 4 * i, as: Float.self))) }
            case .f64: for i in 0..<n { body(i, raw.loadUnaligned(fromByteOffset: 8 * i, as: Double.self)) }
            case .f16: for i in 0..<n { body(i, Double(halfToFloat(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            case .bf16: for i in 0..<n { body(i, Double(bfloat16ToFloat(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self)))) }
            case .f8e4m3: for i in 0..<n { body(i, Double(fp8E4M3ToFloat(raw[i]))) }
            case .f8e5m2: for i in 0..<n { body(i, Double(fp8E5M2ToFloat(raw[i]))) }
            case .i64: for i in 0..<n { body(i, Double(raw.loadUnaligned(fromByteOffset: 8 * i, as: Int64.self))) }
            case .i32: for i in 0..<n { body(i, Double(raw.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
            case .i16: for i in 0..<n { body(i, Double(raw.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
            case .i8: for i in 0..<n { body(i, Double(Int8(bitPattern: raw[i]))) }
            case .u64: for i in 0..<n { body(i, Double(raw.loadUnaligned(fromByteOffset: 8 * i, as: UInt64.self))) }
            case .u32: for i in 0..<n { body(i, Double(raw.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))) }
            case .u16: for i in 0..<n { body(i, Double(raw.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
            case .u8, .bool: for i in 0..<n { body(i, Double(raw[i])) }
            }
        }
    }
}
