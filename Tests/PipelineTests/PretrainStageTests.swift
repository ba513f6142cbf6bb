// The pretrain stage (a base model from random weights on a text corpus) and the arithmetic
// corpus it is meant for: the corpus is statements and results only, deterministic in its seed;
// pretraining lowers the loss, writes the same model bytes when run again in a fresh store, and
// the model it writes loads, generates and carries its tokenizer.

import Foundation
import Testing
import TestSupport
import Checkpoint
import LanguageModel
import Tensors
import Tokenizers
import Training
@testable import Pipeline
@testable import ShardStore

@Suite struct PretrainStageTests {
    let scratch = ScratchDirectory("pretrain")

    /// With the answer line, every problem document gains exactly one last line stating its own
    /// result in the box; every other document and line is the same as without it.
    @Test func theAnswerLineStatesEachProblemsOwnResult() throws {
        let plain = try ArithmeticCorpus.documents(seed: 5, count: 300)
        let boxed = try ArithmeticCorpus.documents(seed: 5, count: 300, answerLine: true)
        #expect(boxed.count == plain.count)
        var problems = 0
        for (a, b) in zip(plain, boxed) {
            let lines = a.split(separator: "\n")
            if lines.count == 1 { #expect(a == b); continue }
            problems += 1
            let result = lines[1].split(separator: " ").last.map { String($0.dropLast()) } ?? "?"
            #expect(b == a + "\nThe answer is \\boxed{\(result)}.", "\(b)")
        }
        #expect(problems > 30)
    }

    @Test func theArithmeticCorpusIsProblemsWithResultsAndStatementsOnly() throws {
        let docs = try ArithmeticCorpus.documents(seed: 5, count: 600)
        #expect(docs.count == 600)
        #expect(try ArithmeticCorpus.documents(seed: 5, count: 600) == docs)
        #expect(try ArithmeticCorpus.documents(seed: 6, count: 600) != docs)
        func expectStatement(_ line: Substring, _ doc: String) {
            // "a op b = c." with the result right
            let parts = line.dropLast().split(separator: " ")
            #expect(parts.count == 5 && parts[3] == "=" && line.hasSuffix("."), "\(doc)")
            if parts.count == 5, let a = Int(parts[0]), let b = Int(parts[2]), let c = Int(parts[4]) {
                let r: Int? = switch parts[1] { case "+": a + b; case "-": a - b; case "*": a * b; case "/": b != 0 && a % b == 0 ? a / b : nil; default: nil }
                #expect(r == c, "\(doc)")
            }
        }
        var problems = 0
        for doc in docs {
            #expect(!doc.contains("answer") && !doc.contains("boxed") && !doc.contains("step"), "\(doc)")
            let lines = doc.split(separator: "\n")
            if lines.count == 1 {
                expectStatement(lines[0], doc)
            } else {
                // a train problem, then its whole expression and result: no worked steps
                problems += 1
                try #require(lines.count == 2, "\(doc)")
                #expect(SyntheticArithmetic.split(of: String(lines[0])) == .train, "\(doc)")
                let sides = lines[1].dropLast().split(separator: "=")
                try #require(sides.count == 2 && lines[1].hasSuffix("."), "\(doc)")
                #expect(MathGrader().isEquivalent(String(sides[0]), to: String(sides[1])), "\(doc)")
                if lines[0].hasPrefix("Compute ") || lines[0].hasPrefix("What is ") {
                    #expect(lines[0].contains(sides[0].trimmingCharacters(in: .whitespaces)), "\(doc)")
                }
            }
        }
        #expect(problems > 100 && problems < 400)
        // every level contributes (levels 1–5 differ in digits: 1-digit operands only at levels 1–2)
        #expect(docs.contains { $0.split(separator: " ").first.map { $0.count >= 3 } == true })
        // as text: documents separated by blank lines, read back by the stage as written
        let text = try ArithmeticCorpus.text(seed: 5, count: 600)
        #expect(PretrainStage.documents(of: text, .paragraphs) == docs)
        #expect(PretrainStage.documents(of: "a\nb\n\n\n c \n\nd\n", .paragraphs) == ["a\nb", " c ", "d"])
        #expect(PretrainStage.documents(of: "a\nb\n\nc", .lines) == ["a", "b", "c"])
    }

    @Test func pretrainingLowersTheLossAndWritesTheSameBytesAgain() throws {
        func run(_ name: String) throws -> (Store, StageResult) {
            let store = try Store.create(at: scratch.file(name))
            let tokBytes = try fixtureBytes("tok512/tok512.bin")
            let corpus = try ArithmeticCorpus.documents(seed: 9, count: 3000).joined(separator: "\n")
            let config = ModelConfig(modelType: .qwen2, vocabSize: 512, hiddenSize: 32, intermediateSize: 64, numHiddenLayers: 2,
                                     numAttentionHeads: 4, numKeyValueHeads: 2, maxPositionEmbeddings: 128, tieWordEmbeddings: true,
                                     bosTokenId: 1, eosTokenIds: [2], dtype: "float32")
            let stage = PretrainStage(tokenizer: try store.put(tokBytes, kind: .blob).id, corpus: try store.put(Array(corpus.utf8), kind: .blob).id,
                                      config: config, steps: 40, batch: 8, sequenceLength: 48, optimizer: AdamWConfig(lr: 3e-3), seed: 4)
            return (store, try StageRunner(store: store, run: "p").execute(stage).result)
        }
        let (store, a) = try run("a")
        let losses = (a.metrics["losses"]?.arrayValue ?? []).compactMap(\.doubleValue)
        #expect(losses.count == 40)
        let first = losses.prefix(5).reduce(0, +) / 5, last = losses.suffix(5).reduce(0, +) / 5
        #expect(first > log(512) - 1 && last < first - 1.5, "loss \(first) → \(last)")
        let (_, b) = try run("b")
        #expect(try a.id("model") == b.id("model"))
        let set = try store.tensorSet(try a.id("model"))
        let loaded = try store.loadModel(set)
        #expect(loaded.model.config.vocabSize == 512 && loaded.tokenizerFiles["tokenizer.bin"] != nil)
    }
}
