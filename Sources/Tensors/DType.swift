// Element types of stored tensors. The raw value is our short name ("f32", "bf16", ...), used in
// manifests and on the command line; `safetensorsName` is the safetensors header spelling.

public enum DType: String, Sendable, CaseIterable, Codable, Hashable {
    case f64, f32, f16, bf16
    case f8e4m3 = "f8_e4m3", f8e5m2 = "f8_e5m2"
    case i64, i32, i16, i8
    case u64, u32, u16, u8
    case bool

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f64, .i64, .u64: 8
        case .f32, .i32, .u32: 4
        case .f16, .bf16, .i16, .u16: 2
        case .f8e4m3, .f8e5m2, .i8, .u8, .bool: 1
        }
    }

    public var isFloatingPoint: Bool {
        switch self {
        case .f64, .f32, .f16, .bf16, .f8e4m3, .f8e5m2: true
        default: false
        }
    }

    /// The dtype string of the safetensors format ("F32", "BF16", "BOOL", ...).
    public var safetensorsName: String {
        switch self {
        case .f8e4m3: "F8_E4M3"
        case .f8e5m2: "F8_E5M2"
        default: rawValue.uppercased()
        }
    }

    public init?(safetensorsName name: String) {
        guard let match = DType.allCases.first(where: { $0.safetensorsName == name }) else { return nil }
        self = match
    }

    /// A stable one-byte code, part of every stored tensor object's id. Never renumber.
    public var code: UInt8 {
        switch self {
        case .f64: 1
        case .f32: 2
        case .f16: 3
        case .bf16: 4
        case .f8e4m3: 5
        case .f8e5m2: 6
        case .i64: 7
        case .i32: 8
        case .i16: 9
        case .i8: 10
        case .u64: 11
        case .u32: 12
        case .u16: 13
        case .u8: 14
        case .bool: 15
        }
    }

    public init?(code: UInt8) {
        guard let match = DType.allCases.first(where: { $0.code == code }) else { return nil }
        self = match
    }
}

/// Number of elements of a shape; nil on overflow or a negative dimension.
public func shapeElementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, overflow) = n.multipliedReportingOverflow(by: d)
        if overflow { return nil }
        n = p
    }
    return n
}
