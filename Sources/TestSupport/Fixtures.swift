// Reading committed golden fixtures: a minimal safetensors reader (f32/i64/i32 tensors, header
// checked against the file size) and JSON files. Test-only; the product reads safetensors through
// the Checkpoint module.

import Foundation

public struct FixtureError: Error, CustomStringConvertible {
    public let description: String
}

/// All tensors of a small safetensors file, decoded to Float.
public struct FixtureTensors {
    public let shapes: [String: [Int]]
    public let values: [String: [Float]]
    public var names: [String] { shapes.keys.sorted() }

    public init(path: String) throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        guard data.count >= 8 else { throw FixtureError(description: "\(path): shorter than a safetensors header") }
        let headerLength = data.prefix(8).withUnsafeBytes { Int($0.loadUnaligned(as: UInt64.self).littleEndian) }
        guard headerLength <= data.count - 8 else { throw FixtureError(description: "\(path): header length beyond the file") }
        let header = try JSONSerialization.jsonObject(with: data.subdata(in: 8..<(8 + headerLength))) as? [String: Any] ?? [:]
        let base = 8 + headerLength
        var shapes: [String: [Int]] = [:], values: [String: [Float]] = [:]
        for (name, any) in header where name != "__metadata__" {
            guard let info = any as? [String: Any], let dtype = info["dtype"] as? String,
                  let shape = info["shape"] as? [Int], let offsets = info["data_offsets"] as? [Int], offsets.count == 2,
                  offsets[0] <= offsets[1], base + offsets[1] <= data.count else {
                throw FixtureError(description: "\(path): bad header entry for '\(name)'")
            }
            let bytes = data.subdata(in: (base + offsets[0])..<(base + offsets[1]))
            let n = shape.reduce(1, *)
            let floats: [Float] = bytes.withUnsafeBytes { raw in
                switch dtype {
                case "F32": return (0..<n).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) }
                case "I64": return (0..<n).map { Float(raw.loadUnaligned(fromByteOffset: 8 * $0, as: Int64.self)) }
                case "I32": return (0..<n).map { Float(raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self)) }
                default: return []
                }
            }
            guard floats.count == n else { throw FixtureError(description: "\(path): tensor '\(name)' of dtype \(dtype) unsupported or short") }
            shapes[name] = shape
            values[name] = floats
        }
        self.shapes = shapes
        self.values = values
    }

    public subscript(name: String) -> [Float]? { values[name] }
}

/// A JSON fixture as nested Foundation values.
public func fixtureJSON(_ path: String) throws -> [String: Any] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    guard let o = try JSONSerialization.jsonObject(with: data) as? [String: Any] else {
        throw FixtureError(description: "\(path): not a JSON object")
    }
    return o
}

public func fixtureData(_ path: String) throws -> Data {
    try Data(contentsOf: URL(fileURLWithPath: path))
}
