// The Swift chat templates against transformers' apply_chat_template with the published Jinja
// templates of Qwen2.5, Qwen2.5-Math, Llama-3 and Llama-3.2, text and token ids.

import Foundation
import Testing
@testable import Tokenizers

@Suite struct ChatTemplateTests {
    struct Golden: Decodable {
        struct Options: Decodable {
            let default_system_prompt: String?
            let date_string: String?
        }
        let template: String
        let options: Options
        let tokenizer: String
        let messages: [ChatMessage]
        let add_generation_prompt: Bool
        let text: String
        let ids: [Int32]

        var chatTemplate: ChatTemplate {
            switch template {
            case "qwen2.5": return .qwen25(defaultSystemPrompt: options.default_system_prompt ?? ChatTemplate.qwen25DefaultSystemPrompt)
            case "llama3": return .llama3
            default: return .llama31(dateString: options.date_string ?? ChatTemplate.llama31DefaultDate)
            }
        }
    }

    @Test func rendersLikeTheJinjaTemplates() throws {
        let goldens = try Fixtures.lines("chat_templates.jsonl", as: Golden.self)
        #expect(goldens.count == 120)
        let tokenizers = try Dictionary(uniqueKeysWithValues: ["qwen2-style", "llama3-style"].map { ($0, try Fixtures.tokenizer($0)) })
        for (n, g) in goldens.enumerated() {
            let text = try g.chatTemplate.render(g.messages, addGenerationPrompt: g.add_generation_prompt)
            #expect(text == g.text, "line \(n + 1): \(g.template)")
            #expect(tokenizers[g.tokenizer]!.encode(text, addSpecialTokens: false) == g.ids, "line \(n + 1)")
        }
    }

    @Test func completionSplitsTheRenderedReply() throws {
        let prompt: [ChatMessage] = [.system("Be brief."), .user("What is 6*7?")]
        for template in try ChatTemplate.names.map({ try ChatTemplate(name: $0) }) {
            let (p, c) = try template.renderCompletion(prompt: prompt, reply: "42")
            #expect(p == (try template.render(prompt, addGenerationPrompt: true)))
            #expect(p + c == (try template.render(prompt + [.assistant("42")], addGenerationPrompt: false)))
            #expect(c.hasSuffix(template.endOfTurn + (template.name == "qwen2.5" ? "\n" : "")))
        }
        // A reply starting with a combining mark is split by bytes, not Characters.
        let (p, c) = try ChatTemplate.raw.renderCompletion(prompt: [.user("e")], reply: "\u{301}!")
        #expect(p == "e" && c == "\u{301}!")
    }

    @Test func namesAndErrors() throws {
        #expect(try ChatTemplate(name: "qwen2.5") == .qwen25(defaultSystemPrompt: ChatTemplate.qwen25DefaultSystemPrompt))
        #expect(try ChatTemplate(name: "llama3.2") == .llama31(dateString: "26 Jul 2024"))
        #expect(throws: TokenizerError.unknownChatTemplate("chatml")) { _ = try ChatTemplate(name: "chatml") }
        #expect(throws: TokenizerError.unsupportedRole(template: "llama3", role: "tool")) {
            _ = try ChatTemplate.llama3.render([ChatMessage(role: "tool", content: "{}")], addGenerationPrompt: false)
        }
        #expect(throws: TokenizerError.self) { _ = try ChatTemplate.qwen25(defaultSystemPrompt: "").render([], addGenerationPrompt: true) }
        #expect(try ChatTemplate.raw.render([.system("a"), .user("b")], addGenerationPrompt: true) == "ab")
        #expect(ChatTemplate.trim("\u{1C} x \u{3000}") == "x")
    }
}
