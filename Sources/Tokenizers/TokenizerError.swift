// Errors of the tokenizers, written for people: what failed, the file and key quoted, a hint when
// one helps. Library code throws these; the CLI prints them and exits with code 1.

import Tensors

public enum TokenizerError: Error, CustomStringConvertible, Equatable, Sendable {
    /// The file could not be read at all.
    case unreadable(file: String, reason: String)
    /// Neither a tokenizer.json nor a llama2.c tokenizer file.
    case unknownFormat(file: String)
    /// tokenizer.json is not valid JSON.
    case invalidJSON(file: String, reason: String)
    /// A required key is absent (key is a dotted path such as `model.vocab`).
    case missingKey(file: String, key: String)
    /// A key holds a value of the wrong shape.
    case invalidValue(file: String, key: String, reason: String)
    /// A model type, pre-tokenizer, normalizer, decoder or option bridge does not implement.
    case unsupported(file: String, key: String, value: String, supported: String)
    /// A llama2.c tokenizer file that is truncated or inconsistent.
    case invalidLlama2CFile(file: String, reason: String)
    /// Input text that is not valid UTF-8 (line is 1-based when known; offset is the byte offset in the line).
    case invalidUTF8(source: String, line: Int?, byteOffset: Int)
    /// A chat message role the template does not render.
    case unsupportedRole(template: String, role: String)
    /// A chat template name bridge does not know.
    case unknownChatTemplate(String)
    /// A chat that a template cannot render (for example no messages).
    case invalidChat(template: String, reason: String)

    public var description: String {
        switch self {
        case let .unreadable(file, reason):
            return "cannot read tokenizer '\(file)': \(reason)"
        case let .unknownFormat(file):
            return "'\(file)' is not a tokenizer bridge reads\nhint: give a Hugging Face tokenizer.json or a llama2.c tokenizer .bin (like tok512.bin)"
        case let .invalidJSON(file, reason):
            return "invalid JSON in tokenizer '\(file)': \(reason)"
        case let .missingKey(file, key):
            return "tokenizer '\(file)' has no '\(key)'"
        case let .invalidValue(file, key, reason):
            return "tokenizer '\(file)': invalid '\(key)': \(reason)"
        case let .unsupported(file, key, value, supported):
            return "tokenizer '\(file)': unsupported \(key) '\(value)'\nhint: bridge supports \(supported)"
        case let .invalidLlama2CFile(file, reason):
            return "invalid llama2.c tokenizer '\(file)': \(reason)"
        case let .invalidUTF8(source, line, offset):
            let at = line.map { "line \($0), byte \(offset + 1)" } ?? "byte \(offset + 1)"
            return "invalid UTF-8 in '\(source)' at \(at)\nhint: tokenizers take UTF-8 text; convert the file first (e.g. iconv -t UTF-8)"
        case let .unsupportedRole(template, role):
            return "chat template '\(template)' does not render role '\(role)'\nhint: use system, user and assistant messages"
        case let .unknownChatTemplate(name):
            return "unknown chat template '\(name)'\nhint: one of \(ChatTemplate.names.joined(separator: ", "))"
        case let .invalidChat(template, reason):
            return "chat template '\(template)': \(reason)"
        }
    }
}

extension TokenizerError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}
