// Strict config.json decoding: the three families in both key styles, and the errors.

import Foundation
import Testing
import LanguageModel
import TestSupport

@Suite struct ConfigTests {
    func decode(_ json: String) throws(ModelError) -> ModelConfig { try ModelConfig(json: Data(json.utf8)) }

    let base = #""model_type": "llama", "vocab_size": 64, "hidden_size": 32, "intermediate_size": 48, "num_hidden_layers": 2, "num_attention_heads": 4"#

    @Test func fixtureConfigsDecode() throws {
        let qwen2 = try ModelConfig(json: fixtureData(fixturesDirectory + "/qwen2/config.json"))
        #expect(qwen2.modelType == .qwen2 && qwen2.tieWordEmbeddings && qwen2.qkvBias && !qwen2.outputBias)
        #expect(qwen2.ropeTheta == 1000 && qwen2.ropeScaling == nil && qwen2.dtype == "float32")
        let llama = try ModelConfig(json: fixtureData(fixturesDirectory + "/llama/config.json"))
        #expect(llama.ropeScaling?.factor == 4 && llama.ropeScaling?.originalMaxPositionEmbeddings == 16)
        #expect(!llama.qkvBias && llama.eosTokenIds == [2] && llama.bosTokenId == 1 && llama.rmsNormEps == 1e-5)
        let qwen3 = try ModelConfig(json: fixtureData(fixturesDirectory + "/qwen3/config.json"))
        #expect(qwen3.qkNorm && qwen3.headDim == 12 && qwen3.qDim == 48 && qwen3.numKeyValueHeads == 2)
    }

    @Test func classicAndTransformers5FormsAgree() throws {
        let classic = try decode("{\(base), \"rope_theta\": 500000.0, \"torch_dtype\": \"bfloat16\", \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": 32.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}}")
        let modern = try decode("{\(base), \"dtype\": \"bfloat16\", \"rope_parameters\": {\"rope_type\": \"llama3\", \"rope_theta\": 500000.0, \"factor\": 32.0, \"low_freq_factor\": 1.0, \"high_freq_factor\": 4.0, \"original_max_position_embeddings\": 8192}}")
        #expect(classic == modern)
        #expect(classic.ropeTheta == 500000 && classic.dtype == "bfloat16")
        // the exported config decodes back to the same model
        #expect(try ModelConfig(json: classic.hfConfigJSON()) == ModelConfig(json: classic.hfConfigJSON()))
        var roundTrip = try ModelConfig(json: classic.hfConfigJSON(dtype: "bfloat16"))
        roundTrip.dtype = classic.dtype
        #expect(roundTrip == classic)
    }

    @Test func numbersReadWhicheverWaySpelt() throws {
        // Published configs write `1000000.0`, `1e-06`; integers may come as `4096.0` or `1e3`.
        let a = try decode("{\(base), \"rope_theta\": 1000000.0, \"rms_norm_eps\": 1e-06, \"max_position_embeddings\": 4096.0, \"eos_token_id\": 2.0, \"head_dim\": 8}")
        let b = try decode("{\(base), \"rope_theta\": 1e6, \"rms_norm_eps\": 0.000001, \"max_position_embeddings\": 4096, \"eos_token_id\": [2], \"head_dim\": 8e0}")
        #expect(a == b)
        #expect(a.ropeTheta == 1_000_000 && a.rmsNormEps == 1e-6 && a.maxPositionEmbeddings == 4096 && a.eosTokenIds == [2] && a.headDim == 8)
        #expect(throws: ModelError.badValue(key: "head_dim", value: "8.5", expected: "Int")) { try decode("{\(base), \"head_dim\": 8.5}") }
        #expect(throws: ModelError.badValue(key: "rope_scaling.factor", value: "of another type", expected: "Double")) {
            try decode("{\(base), \"rope_scaling\": {\"rope_type\": \"llama3\", \"factor\": \"2\"}}")
        }
        let bad = #expect(throws: ModelError.self) { try decode("{\(base),\n \"rope_theta\": 1e}") }
        #expect(bad?.description.contains("line 2") == true, "\(String(describing: bad))")
    }

    @Test func errorsNameTheKey() {
        #expect(throws: ModelError.unknownModelType("gpt2")) { try decode(#"{"model_type": "gpt2"}"#) }
        #expect(throws: ModelError.unknownKey("n_embd")) { try decode("{\(base), \"n_embd\": 3}") }
        #expect(throws: ModelError.missingKey("hidden_size")) {
            try decode(#"{"model_type": "qwen2", "vocab_size": 8, "intermediate_size": 8, "num_hidden_layers": 1, "num_attention_heads": 1}"#)
        }
        #expect(throws: ModelError.self) { try decode("{\(base), \"rope_scaling\": {\"rope_type\": \"yarn\", \"factor\": 2.0}}") }
        #expect(throws: ModelError.self) { try decode("{\(base), \"hidden_act\": \"gelu\"}") }
        #expect(throws: ModelError.self) { try decode("{\(base), \"num_key_value_heads\": 3}") }
        #expect(throws: ModelError.self) { try decode("{\(base), \"tie_word_embeddings\": \"yes\"}") }
        #expect(throws: ModelError.self) { try decode("{\(base)") }
        let error = #expect(throws: ModelError.self) { try decode("{\(base), \"num_key_value_heads\": 3}") }
        #expect(error?.description.contains("num_key_value_heads") == true, "\(String(describing: error))")
    }
}
