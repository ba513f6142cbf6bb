// SFT data parsing (strict, errors name the line), loss masks, and the trainer (seeded,
// decreasing loss on a tiny model).

import Foundation
import Testing
import LanguageModel
import Tensors
import TestSupport
import Training

@Suite struct SFTTests {
    @Test func recordsAndMasks() throws {
        let data = Data("{\"ids\": [5, 6, 7]}\n\n{\"prompt_ids\": [1, 2], \"completion_ids\": [3, 4]}\r\n".utf8)
        let ex = try SFTData.parse(jsonl: data, path: "d.jsonl")
        #expect(ex.count == 2)
        #expect(ex[0].tokens == [5, 6, 7] && ex[0].targets == [6, 7, -100])
        // loss only where the next token is a completion token
        #expect(ex[1].tokens == [1, 2, 3, 4] && ex[1].targets == [-100, 3, 4, -100])
        #expect(ex[1].line == 3)
    }

    @Test func badRecordsNameTheLine() {
        for (text, needle) in [("{\"ids\": [1, 2]}\n{\"ids\": [1]}", "d.jsonl:2"),
                               ("{\"ids\": [1, -2]}", "d.jsonl:1"),
                               ("{\"ids\": [1, 2.5]}", "d.jsonl:1"),
                               ("{\"prompt_ids\": [1]}", "d.jsonl:1"),
                               ("{\"ids\": [1, 2], \"mask\": [1]}", "d.jsonl:1"),
                               ("[1, 2]", "d.jsonl:1"),
                               ("\n\n", "no records")] {
            #expect { try SFTData.parse(jsonl: Data(text.utf8), path: "d.jsonl") } throws: { "\($0)".contains(needle) }
        }
    }

    @Test func trainerIsSeededAndLearns() throws {
        let config = ModelConfig(modelType: .qwen2, vocabSize: 32, hiddenSize: 16, intermediateSize: 24, numHiddenLayers: 1,
                                 numAttentionHeads: 2, numKeyValueHeads: 1, maxPositionEmbeddings: 16)
        let examples = (0..<5).map { i in SFTExample(tokens: (0..<6).map { Int32((i + $0 * 3) % 32) }, lossFrom: 1) }
        func train(seed: UInt64) throws -> ([Float], [Float]) {
            let model = try Transformer(randomWeights: config, seed: 1)
            let trainer = try SFTTrainer(model: model, examples: examples,
                                         config: SFTConfig(steps: 12, batch: 2, optimizer: AdamWConfig(lr: 1e-2, clip: 1), seed: seed))
            return (try trainer.run(), model.params.array)
        }
        let (a, wa) = try train(seed: 3), (b, wb) = try train(seed: 3), (c, _) = try train(seed: 4)
        #expect(a == b && wa == wb)
        #expect(a != c)
        #expect(a.suffix(3).reduce(0, +) < a.prefix(3).reduce(0, +))
        let long = SFTExample(tokens: Array(repeating: 1, count: 17), lossFrom: 1, line: 9)
        #expect { try SFTTrainer(model: try Transformer(randomWeights: config, seed: 1), examples: [long],
                                 config: SFTConfig(steps: 1, batch: 1, optimizer: AdamWConfig(lr: 1e-3))) } throws: { "\($0)".contains(":9") }
    }
}
