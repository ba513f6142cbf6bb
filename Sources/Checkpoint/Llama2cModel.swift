// `import llama2c`: Karpathy's llama2.c checkpoint ("legacy" version 0) and tokenizer.bin into a
// model tensor set with Hugging Face Llama names. Layout (all little-endian):
//
//   7 × i32   dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size (< 0: unshared
//             classifier), max_seq_len
//   f32       token_embedding [vocab, dim]; rms_att [L, dim]; wq [L, dim, dim];
//             wk [L, kv_dim, dim]; wv [L, kv_dim, dim]; wo [L, dim, dim]; rms_ffn [L, dim];
//             w1 [L, hidden, dim]; w2 [L, dim, hidden]; w3 [L, hidden, dim]; rms_final [dim];
//             freq_cis_real, freq_cis_imag [max_seq_len, head_dim/2] (skipped);
//             wcls [vocab, dim] only when unshared
//
// llama2.c rotates interleaved pairs (2i, 2i+1); Hugging Face rotates (i, i + D/2). The q/k
// rows are permuted per head (as transformers' convert_llama_weights_to_hf does) so both agree.

import Foundation
import LanguageModel
import ShardStore
import Tensors

extension Store {
    public func importLlama2c(file path: String, tokenizer tokenizerPath: String) throws -> TensorSet {
        let bytes = try readFileBytes(path)
        func bad(_ why: String) -> ModelCheckpointError { .badFile(path: path, reason: why) }
        guard bytes.count >= 28 else { throw bad("\(bytes.count) bytes is too short for the 28-byte llama2.c header") }
        let header: [Int] = bytes.withUnsafeBytes { raw in (0..<7).map { Int(Int32(littleEndian: raw.loadUnaligned(fromByteOffset: 4 * $0, as: Int32.self))) } }
        let (dim, hidden, layers, heads, kvHeads, signedVocab, maxSeq) = (header[0], header[1], header[2], header[3], header[4], header[5], header[6])
        let vocab = abs(signedVocab), shared = signedVocab > 0
        guard dim > 0, hidden > 0, layers > 0, heads > 0, kvHeads > 0, vocab > 0, maxSeq > 0,
              dim % heads == 0, heads % kvHeads == 0, (dim / heads) % 2 == 0, dim <= 1 << 16, hidden <= 1 << 18,
              layers <= 1024, vocab <= 1 << 22, maxSeq <= 1 << 20 else {
            throw bad("implausible header \(header) (dim, hidden_dim, n_layers, n_heads, n_kv_heads, vocab_size, max_seq_len)")
        }
        let headDim = dim / heads, kvDim = kvHeads * headDim
        let sizes: [(String, Int)] = [
            ("token_embedding", vocab * dim), ("rms_att", layers * dim), ("wq", layers * dim * dim),
            ("wk", layers * kvDim * dim), ("wv", layers * kvDim * dim), ("wo", layers * dim * dim),
            ("rms_ffn", layers * dim), ("w1", layers * hidden * dim), ("w2", layers * dim * hidden),
            ("w3", layers * hidden * dim), ("rms_final", dim), ("freq_cis", maxSeq * headDim),
        ] + (shared ? [] : [("wcls", vocab * dim)])
        let floats = sizes.reduce(0) { $0 + $1.1 }
        guard bytes.count == 28 + 4 * floats else {
            throw bad("is \(bytes.count) bytes; the header \(header) implies \(28 + 4 * floats) (hint: only the legacy version-0 format is supported)")
        }
        var offsets: [String: Int] = [:]
        var at = 7
        for (name, n) in sizes { offsets[name] = at; at += n }
        let all: [Float] = bytes.withUnsafeBytes { raw in (0..<(7 + floats)).map { raw.loadUnaligned(fromByteOffset: 4 * $0, as: Float.self) } }
        func slice(_ name: String, _ index: Int, _ count: Int) -> [Float] {
            let start = offsets[name]! + index * count
            return Array(all[start..<(start + count)])
        }
        /// Interleaved rope pairs → rotate_half order, per head: new (h, j, i) ← old (h, i, j).
        func permute(_ w: [Float], heads: Int) -> [Float] {
            var out = w
            let half = headDim / 2
            for h in 0..<heads { for j in 0..<2 { for i in 0..<half {
                let dst = (h * headDim + j * half + i) * dim, src = (h * headDim + 2 * i + j) * dim
                for c in 0..<dim { out[dst + c] = w[src + c] }
            } } }
            return out
        }

        let config = ModelConfig(modelType: .llama, vocabSize: vocab, hiddenSize: dim, intermediateSize: hidden,
                                 numHiddenLayers: layers, numAttentionHeads: heads, numKeyValueHeads: kvHeads, headDim: headDim,
                                 rmsNormEps: 1e-5, ropeTheta: 10000, maxPositionEmbeddings: maxSeq, tieWordEmbeddings: shared,
                                 bosTokenId: 1 < vocab ? 1 : nil, eosTokenIds: 2 < vocab ? [2] : [], dtype: "float32")
        do { try config.validate() } catch { throw ModelCheckpointError.model(error, context: path) }
        var tensors: [(name: String, tensor: Tensor)] = []
        func add(_ name: String, _ values: [Float], _ shape: [Int]) { tensors.append((name, Tensor(f32: values, shape: shape))) }
        add("model.embed_tokens.weight", slice("token_embedding", 0, vocab * dim), [vocab, dim])
        for l in 0..<layers {
            let p = "model.layers.\(l)."
            add(p + "input_layernorm.weight", slice("rms_att", l, dim), [dim])
            add(p + "self_attn.q_proj.weight", permute(slice("wq", l, dim * dim), heads: heads), [dim, dim])
            add(p + "self_attn.k_proj.weight", permute(slice("wk", l, kvDim * dim), heads: kvHeads), [kvDim, dim])
            add(p + "self_attn.v_proj.weight", slice("wv", l, kvDim * dim), [kvDim, dim])
            add(p + "self_attn.o_proj.weight", slice("wo", l, dim * dim), [dim, dim])
            add(p + "post_attention_layernorm.weight", slice("rms_ffn", l, dim), [dim])
            add(p + "mlp.gate_proj.weight", slice("w1", l, hidden * dim), [hidden, dim])
            add(p + "mlp.down_proj.weight", slice("w2", l, dim * hidden), [dim, hidden])
            add(p + "mlp.up_proj.weight", slice("w3", l, hidden * dim), [hidden, dim])
        }
        add("model.norm.weight", slice("rms_final", 0, dim), [dim])
        if !shared { add("lm_head.weight", slice("wcls", 0, vocab * dim), [vocab, dim]) }

        let tokenizerBytes = try readFileBytes(tokenizerPath)
        try Llama2cTokenizerFile.check(tokenizerBytes, vocab: vocab, path: tokenizerPath)
        let configJSON: JSONValue
        do { configJSON = try JSONValue(parsing: [UInt8](config.hfConfigJSON())) } catch {
            throw ModelCheckpointError.badFile(path: path, reason: "internal: generated config is not JSON: \(error)")
        }
        var entries = try putTensors(tensors)
        entries += try putTokenizerFiles([("tokenizer.bin", tokenizerBytes)])
        var set = TensorSet(tensors: entries, metadata: [ModelMetadata.config: configJSON, "source": "llama2c"])
        set.id = try putTensorSet(set)
        return set
    }
}

/// Validation of llama2.c's tokenizer.bin: i32 max_token_length, then per token f32 score,
/// i32 length, bytes. The Tokenizers module decodes it; import only checks its shape.
enum Llama2cTokenizerFile {
    static func check(_ bytes: [UInt8], vocab: Int, path: String) throws {
        func bad(_ why: String) -> ModelCheckpointError { .badFile(path: path, reason: why) }
        guard bytes.count >= 4 else { throw bad("too short for a llama2.c tokenizer") }
        var at = 4
        for i in 0..<vocab {
            guard at + 8 <= bytes.count else { throw bad("ends at token \(i) of the model's \(vocab)") }
            let n = bytes.withUnsafeBytes { Int(Int32(littleEndian: $0.loadUnaligned(fromByteOffset: at + 4, as: Int32.self))) }
            guard n >= 0, at + 8 + n <= bytes.count else { throw bad("token \(i) has a bad length \(n)") }
            at += 8 + n
        }
        guard at == bytes.count else { throw bad("has \(bytes.count - at) bytes after the model's \(vocab) tokens") }
    }
}
