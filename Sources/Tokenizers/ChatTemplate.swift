// Chat templates as plain Swift, rendering what the published Jinja templates render for
// system/user/assistant chats (no tools): Qwen2.5's <|im_start|> format with its default system
// prompt, Llama-3's header format (3.0, and 3.1/3.2 with the date preamble), and a raw mode.
// Golden texts from transformers' apply_chat_template pin each one (tools/gen_tokenizer_goldens.py).

public struct ChatMessage: Sendable, Hashable, Codable {
    public var role: String
    public var content: String

    public init(role: String, content: String) {
        self.role = role
        self.content = content
    }

    public static func system(_ content: String) -> ChatMessage { ChatMessage(role: "system", content: content) }
    public static func user(_ content: String) -> ChatMessage { ChatMessage(role: "user", content: content) }
    public static func assistant(_ content: String) -> ChatMessage { ChatMessage(role: "assistant", content: content) }
}

public enum ChatTemplate: Sendable, Hashable {
    /// Qwen2.5 (Instruct): `<|im_start|>role\ncontent<|im_end|>\n`; a chat without a system
    /// message gets `defaultSystemPrompt` (the published template's is `qwen25DefaultSystemPrompt`).
    case qwen25(defaultSystemPrompt: String)
    /// Llama-3 (8B-Instruct): `<|begin_of_text|>` then `<|start_header_id|>role<|end_header_id|>\n\n`
    /// + trimmed content + `<|eot_id|>` per message.
    case llama3
    /// Llama-3.1 / 3.2 / 3.3: always a system header with "Cutting Knowledge Date: December 2023" and
    /// "Today Date: <dateString>" before the (trimmed) system message.
    case llama31(dateString: String)
    /// No template: the contents concatenated, nothing added.
    case raw

    public static let qwen25DefaultSystemPrompt = "You are Qwen, created by Alibaba Cloud. You are a helpful assistant."
    public static let llama31DefaultDate = "26 Jul 2024"
    public static let names = ["qwen2.5", "llama3", "llama3.1", "raw"]

    /// The template by name, with the published defaults.
    public init(name: String) throws {
        switch name {
        case "qwen2.5", "qwen2", "qwen": self = .qwen25(defaultSystemPrompt: ChatTemplate.qwen25DefaultSystemPrompt)
        case "llama3": self = .llama3
        case "llama3.1", "llama3.2", "llama3.3": self = .llama31(dateString: ChatTemplate.llama31DefaultDate)
        case "raw", "none": self = .raw
        default: throw TokenizerError.unknownChatTemplate(name)
        }
    }

    public var name: String {
        switch self {
        case .qwen25: return "qwen2.5"
        case .llama3: return "llama3"
        case .llama31: return "llama3.1"
        case .raw: return "raw"
        }
    }

    /// What ends an assistant turn (the generation stop token's text); empty for raw.
    public var endOfTurn: String {
        switch self {
        case .qwen25: return "<|im_end|>"
        case .llama3, .llama31: return "<|eot_id|>"
        case .raw: return ""
        }
    }

    /// The chat as text. Encode it with `addSpecialTokens: false`: Llama's BOS is already in it.
    public func render(_ messages: [ChatMessage], addGenerationPrompt: Bool) throws -> String {
        for m in messages where !["system", "user", "assistant"].contains(m.role) {
            throw TokenizerError.unsupportedRole(template: name, role: m.role)
        }
        var out = ""
        switch self {
        case let .qwen25(defaultSystem):
            guard let first = messages.first else { throw TokenizerError.invalidChat(template: name, reason: "no messages") }
            if first.role != "system" { out += "<|im_start|>system\n" + defaultSystem + "<|im_end|>\n" }
            for m in messages { out += "<|im_start|>" + m.role + "\n" + m.content + "<|im_end|>\n" }
            if addGenerationPrompt { out += "<|im_start|>assistant\n" }
        case .llama3:
            out = messages.isEmpty ? "" : "<|begin_of_text|>"
            for m in messages { out += ChatTemplate.llamaTurn(m.role, m.content) }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case let .llama31(date):
            guard let first = messages.first else { throw TokenizerError.invalidChat(template: name, reason: "no messages") }
            var rest = messages[...]
            var system = ""
            if first.role == "system" {
                system = ChatTemplate.trim(first.content)
                rest = messages.dropFirst()
            }
            out = "<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\n"
                + "Cutting Knowledge Date: December 2023\nToday Date: " + date + "\n\n" + system + "<|eot_id|>"
            for m in rest { out += ChatTemplate.llamaTurn(m.role, m.content) }
            if addGenerationPrompt { out += "<|start_header_id|>assistant<|end_header_id|>\n\n" }
        case .raw:
            for m in messages { out += m.content }
        }
        return out
    }

    /// A prompt and the text an assistant reply adds after it, split so that
    /// prompt + completion == render(messages + [assistant(reply)], addGenerationPrompt: false)
    /// (the split SFT masks need: the loss covers the completion, end-of-turn marker included).
    public func renderCompletion(prompt messages: [ChatMessage], reply: String) throws -> (prompt: String, completion: String) {
        let prompt = try render(messages, addGenerationPrompt: true)
        let full = try render(messages + [.assistant(reply)], addGenerationPrompt: false)
        // Compare bytes, not Characters: a reply may start with a combining mark.
        precondition(full.utf8.starts(with: prompt.utf8), "chat template \(name): the generation prompt is not a prefix of the rendered reply")
        return (prompt, String(decoding: full.utf8.dropFirst(prompt.utf8.count), as: UTF8.self))
    }

    private static func llamaTurn(_ role: String, _ content: String) -> String {
        "<|start_header_id|>" + role + "<|end_header_id|>\n\n" + trim(content) + "<|eot_id|>"
    }

    /// Jinja's `trim` filter (Python's str.strip()): drops leading and trailing whitespace as Python
    /// defines it (str.isspace, which includes U+001C...U+001F).
    static func trim(_ s: String) -> String {
        let scalars = s.unicodeScalars
        guard let first = scalars.firstIndex(where: { !isPythonSpace($0) }) else { return "" }
        let last = scalars.lastIndex(where: { !isPythonSpace($0) })!
        return String(scalars[first...last])
    }

    static func isPythonSpace(_ s: Unicode.Scalar) -> Bool {
        switch s.value {
        case 0x09...0x0D, 0x1C...0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000:
            return true
        default:
            return false
        }
    }
}
