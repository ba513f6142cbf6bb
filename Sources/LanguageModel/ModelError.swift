// Errors of the LanguageModel module: bad configs, shapes and token ids. Lowercase, naming the
// subject, with a hint when one helps.

import Tensors

public enum ModelError: Error, CustomStringConvertible, Equatable {
    case invalidJSON(String)
    case unknownModelType(String)
    case unknownKey(String)
    case missingKey(String)
    case badValue(key: String, value: String, expected: String)
    case unsupported(key: String, value: String, hint: String)
    case inconsistent(String)
    case tokenOutOfVocabulary(id: Int, vocab: Int)
    case sequenceTooLong(length: Int, limit: Int)
    case shapeMismatch(name: String, expected: [Int], got: [Int])
    case missingTensors([String])
    case unusedTensors([String])
    case unsupportedDType(name: String, dtype: String)

    static func list(_ names: [String]) -> String {
        let shown = names.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
        return names.count > 5 ? shown + " and \(names.count - 5) more" : shown
    }

    public var description: String {
        switch self {
        case let .invalidJSON(why): "config.json is not valid JSON: \(why)"
        case let .unknownModelType(t): "unknown model_type '\(t)' in config.json (supported: qwen2, llama, qwen3)"
        case let .unknownKey(k): "unknown key '\(k)' in config.json (hint: bridge decodes configs strictly; a key it does not know may change the model)"
        case let .missingKey(k): "config.json is missing required key '\(k)'"
        case let .badValue(k, v, e): "config.json key '\(k)' has value \(v); expected \(e)"
        case let .unsupported(k, v, hint): "config.json key '\(k)' = \(v) is not supported (\(hint))"
        case let .inconsistent(why): "inconsistent model config: \(why)"
        case let .tokenOutOfVocabulary(id, vocab): "token id \(id) is out of the vocabulary (0..<\(vocab))"
        case let .sequenceTooLong(n, limit): "sequence of \(n) tokens exceeds the context length \(limit) (max_position_embeddings)"
        case let .shapeMismatch(name, e, g): "tensor '\(name)' has shape \(g); the config expects \(e)"
        case let .missingTensors(names): "missing tensor\(names.count == 1 ? "" : "s") \(ModelError.list(names)) (hint: does config.json describe these weights?)"
        case let .unusedTensors(names): "unused tensor\(names.count == 1 ? "" : "s") \(ModelError.list(names)) (hint: the weights do not match config.json)"
        case let .unsupportedDType(name, dtype): "tensor '\(name)' has dtype \(dtype); weights must be f32, bf16 or f16"
        }
    }
}

extension ModelError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}
