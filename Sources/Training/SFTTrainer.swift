// Plain supervised fine-tuning: batches of pre-tokenized examples (padded to the longest
// example, so activations are sized once), token-mean cross-entropy over the batch, AdamW.
// B batch, T time (longest example).

import LanguageModel
import Tensors

public struct SFTConfig: Sendable, Equatable {
    public var steps: Int
    public var batch: Int
    public var optimizer: AdamWConfig
    /// Seeds the order of examples (a fresh Philox permutation per epoch).
    public var seed: UInt64

    public init(steps: Int, batch: Int, optimizer: AdamWConfig, seed: UInt64 = 0) {
        self.steps = steps
        self.batch = batch
        self.optimizer = optimizer
        self.seed = seed
    }
}

public final class SFTTrainer {
    public let model: Transformer
    public let config: SFTConfig
    public let optimizer: AdamW
    let examples: [SFTExample]
    let time: Int
    let acts: Activations
    let grads: FloatBuffer
    private var order: [Int] = []
    private var cursor = 0
    private var epoch: UInt64 = 0

    /// `model.params` is updated in place.
    public init(model: Transformer, examples: [SFTExample], config: SFTConfig, path: String = "data") throws {
        precondition(config.batch > 0 && config.steps >= 0)
        let c = model.config
        for e in examples {
            if e.tokens.count > c.maxPositionEmbeddings {
                throw SFTError.tooLong(path: path, line: e.line, length: e.tokens.count, limit: c.maxPositionEmbeddings)
            }
            if let bad = e.tokens.first(where: { Int($0) >= c.vocabSize }) {
                throw SFTError.tokenOutOfVocabulary(path: path, line: e.line, id: Int(bad), vocab: c.vocabSize)
            }
        }
        guard !examples.isEmpty else { throw SFTError.emptyDataset(path: path) }
        self.model = model
        self.examples = examples
        self.config = config
        time = examples.map(\.tokens.count).max()!
        acts = Activations(config: c, batch: config.batch, time: time)
        grads = FloatBuffer(count: model.layout.totalCount)
        optimizer = AdamW(config: config.optimizer, count: model.layout.totalCount)
    }

    /// The next example index in the seeded epoch order.
    func nextExample() -> Int {
        if cursor == order.count {
            order = Array(examples.indices)
            var rng = Philox(seed: config.seed, stream: epoch)
            rng.shuffle(&order)
            epoch += 1
            cursor = 0
        }
        defer { cursor += 1 }
        return order[cursor]
    }

    /// One optimizer step; returns the batch's token-mean loss before the update.
    public func step() throws -> Float {
        let B = config.batch, T = time
        var tokens = [Int32](repeating: 0, count: B * T), targets = [Int32](repeating: -100, count: B * T)
        for b in 0..<B {
            let e = examples[nextExample()]
            for t in 0..<e.tokens.count {
                tokens[b * T + t] = e.tokens[t]
                targets[b * T + t] = e.targets[t]
            }
        }
        let loss = try model.forward(tokens: tokens, targets: targets, acts: acts) ?? 0
        model.backward(acts: acts, grads: grads)
        optimizer.update(params: model.params, grads: grads, clearGrads: true)   // zero for the next step
        return loss
    }

    /// All steps; `progress(step, loss)` after each.
    public func run(progress: (Int, Float) -> Void = { _, _ in }) throws -> [Float] {
        var losses: [Float] = []
        for s in 0..<config.steps {
            let l = try step()
            losses.append(l)
            progress(s, l)
        }
        return losses
    }
}
