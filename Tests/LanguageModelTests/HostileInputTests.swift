// Hostile config.json values (issue [reliability] 4): dimensions whose shape products overflow an
// Int, or that would drive loops and allocations of billions from a few bytes. `validate` refuses
// them by key before ParameterLayout (or anything else) multiplies them.

import Foundation
import Testing
import LanguageModel

@Suite struct HostileConfigTests {
    let base: [String: Int] = ["vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4]

    func decode(_ values: [String: Int]) throws(ModelError) -> ModelConfig {
        let keys = values.sorted { $0.key < $1.key }.map { "\"\($0.key)\": \($0.value)" }.joined(separator: ", ")
        return try ModelConfig(json: Data("{\"model_type\": \"llama\", \(keys)}".utf8))
    }

    @Test(arguments: [("vocab_size", 1 << 40), ("hidden_size", 1 << 32), ("intermediate_size", Int.max), ("num_hidden_layers", 1_000_000_000),
                      ("num_attention_heads", 1 << 20), ("head_dim", 1 << 62), ("max_position_embeddings", Int.max)])
    func hugeDimensionsAreRefusedByKey(_ key: String, _ value: Int) throws {
        var values = base
        values[key] = value
        if key == "num_attention_heads" { values["head_dim"] = 8 }
        #expect {
            _ = try decode(values)
        } throws: { e in
            guard case let .badValue(k, v, expected) = e as? ModelError else { return false }
            return k == key && v == String(value) && expected.hasPrefix("at most")
        }
    }

    /// Each dimension within its bound, together more parameters than any machine holds.
    @Test func hugeModelsAreRefused() throws {
        let values = ["vocab_size": 1 << 24, "hidden_size": 1 << 16, "intermediate_size": 1 << 20, "num_hidden_layers": 1 << 12,
                      "num_attention_heads": 1 << 12, "head_dim": 1 << 12]
        #expect {
            _ = try decode(values)
        } throws: { e in
            guard case let .inconsistent(why) = e as? ModelError else { return false }
            return why.contains("parameters, more than the \(ModelConfig.maxParameters)")
        }
    }

    @Test func publishedSizesStillDecode() throws {
        // Llama-3.1-405B's shapes: 126 layers, 16384 wide, 128 heads of 128, vocab 128256.
        let c = try decode(["vocab_size": 128_256, "hidden_size": 16_384, "intermediate_size": 53_248, "num_hidden_layers": 126,
                            "num_attention_heads": 128, "num_key_value_heads": 8, "max_position_embeddings": 131_072])
        #expect(c.parameterCount > 400_000_000_000 && c.parameterCount < ModelConfig.maxParameters)
    }
}
