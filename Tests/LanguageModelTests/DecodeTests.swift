// KV-cache decoding equals the full forward pass; sampling is seeded and honours top-p.

import Testing
import LanguageModel
import Tensors
import TestSupport

@Suite struct DecodeTests {
    @Test(arguments: ["qwen2", "llama", "qwen3"])
    func cachedStepsEqualFullForward(family: String) throws {
        let f = try GoldenFixture(family)
        let T = f.time, V = f.config.vocabSize
        let sequences = [Array(f.tokens[0..<T]), Array(f.tokens[T..<(2 * T)])]
        let full = Activations(config: f.config, batch: 2, time: T)
        try f.model.forward(tokens: sequences.flatMap { $0 }, acts: full)
        // prefill 3 tokens, then decode the rest one at a time
        let cache = KVCache(config: f.config, batch: 2, capacity: T)
        var logits = try f.model.prefill(prompts: sequences.map { Array($0[0..<3]) }, cache: cache)
        for t in 3...T {
            for b in 0..<2 {
                let expected = full.logits.array(offset: (b * T + t - 1) * V, count: V)
                expectClose(Array(logits[(b * V)..<((b + 1) * V)]), expected, rtol: 1e-4, atol: 1e-5, "\(family) position \(t - 1) sequence \(b)")
            }
            if t < T { logits = try f.model.decode(tokens: sequences.map { $0[t] }, cache: cache) }
        }
    }

    @Test(arguments: ["qwen2", "llama", "qwen3"])
    func greedyGenerateFollowsTheUnpackedDecodeSteps(family: String) throws {
        // generate's decoding steps read packed weight panels; prefill/decode read the nn.Linear
        // layout: each greedy token is the argmax of the unpacked logits
        let f = try GoldenFixture(family)
        let V = f.config.vocabSize, steps = 10
        let prompts = [Array(f.tokens[0..<4]), Array(f.tokens[5..<9]), Array(f.tokens[2..<6])]
        let generated = try f.model.generate(prompts: prompts, maxNewTokens: steps).ids
        let cache = KVCache(config: f.config, batch: prompts.count, capacity: 4 + steps)
        var logits = try f.model.prefill(prompts: prompts, cache: cache)
        for t in 0..<steps {
            let next = (0..<prompts.count).map { b -> Int32 in
                let row = logits[(b * V)..<((b + 1) * V)]
                return Int32(row.indices.max { row[$0] < row[$1] }! - b * V)
            }
            #expect(next == generated.map { $0[t] }, "\(family) step \(t)")
            if t < steps - 1 { logits = try f.model.decode(tokens: next, cache: cache) }
        }
    }

    @Test(arguments: ["qwen2", "llama", "qwen3"])
    func anAdapterFoldedIntoThePackedWeightsDecodesAsTheAdapterDoes(family: String) throws {
        // generate folds the adapter into its packed panels (W + scale·B·A); prefill/decode apply it
        // as its own products: each greedy token is the argmax of the latter's logits, and the
        // sampled log-probabilities are those of the latter's softmax
        let f = try GoldenFixture(family)
        let V = f.config.vocabSize, steps = 10
        let adapter = LoRAAdapter(config: LoRAConfig(r: 4, loraAlpha: 8, targetModules: LoRATarget.allCases), model: f.config, seed: 3)
        var rng = Philox(seed: 5)
        for i in 0..<adapter.params.count where adapter.params[i] == 0 { adapter.params[i] = rng.normal() * 0.3 }   // B ≠ 0
        let prompts = [Array(f.tokens[0..<4]), Array(f.tokens[5..<9]), Array(f.tokens[2..<6])]
        let plain = try f.model.generate(prompts: prompts, maxNewTokens: steps).ids
        let generated = try f.model.generate(prompts: prompts, maxNewTokens: steps, lora: adapter).ids
        #expect(generated != plain, "the adapter changes what is generated")
        let cache = KVCache(config: f.config, batch: prompts.count, capacity: 4 + steps)
        var logits = try f.model.prefill(prompts: prompts, cache: cache, lora: adapter)
        for t in 0..<steps {
            let next = (0..<prompts.count).map { b -> Int32 in
                let row = logits[(b * V)..<((b + 1) * V)]
                return Int32(row.indices.max { row[$0] < row[$1] }! - b * V)
            }
            #expect(next == generated.map { $0[t] }, "\(family) step \(t)")
            if t < steps - 1 { logits = try f.model.decode(tokens: next, cache: cache, lora: adapter) }
        }
        let options = SamplingOptions(temperature: 0.8, topP: 1, seed: 4)
        let sampled = try f.model.generate(prompts: prompts, maxNewTokens: steps, sampling: options, lora: adapter, logprobs: true)
        let replay = KVCache(config: f.config, batch: prompts.count, capacity: 4 + steps)
        logits = try f.model.prefill(prompts: prompts, cache: replay, lora: adapter)
        for t in 0..<steps {
            for b in prompts.indices {
                let row = logits[(b * V)..<((b + 1) * V)].map { $0 / 0.8 }
                let top = row.max()!, sum = row.reduce(0.0) { $0 + exp(Double($1 - top)) }
                let expected = Double(row[Int(sampled.ids[b][t])] - top) - log(sum)
                #expect(abs(Double(sampled.logprobs![b][t]) - expected) <= 1e-4 * max(1, abs(expected)), "\(family) step \(t) sequence \(b)")
            }
            if t < steps - 1 { logits = try f.model.decode(tokens: prompts.indices.map { sampled.ids[$0][t] }, cache: replay, lora: adapter) }
        }
    }

    @Test(arguments: ["qwen2", "llama", "qwen3"])
    func promptsOfDifferentLengthsDecodeAsTheyWouldAlone(family: String) throws {
        // lengths 5, 5, 2, 9, 40, 40, 1: runs of equal lengths prefill together, every sequence
        // decodes at its own positions; greedy ids equal each prompt's ids alone
        let f = try GoldenFixture(family)
        let V = Int32(f.config.vocabSize)
        let lengths = [5, 5, 2, 9, 40, 40, 1]
        let prompts = lengths.enumerated().map { b, n in (0..<n).map { Int32((b * 11 + $0 * 5 + 2) % Int(V)) } }
        let batch = try f.model.generate(prompts: prompts, maxNewTokens: 7, threads: 2)
        for (b, p) in prompts.enumerated() {
            #expect(try f.model.generate(prompts: [p], maxNewTokens: 7, threads: 1).ids[0] == batch.ids[b], "\(family) prompt \(b)")
        }
        // sampled: the same ids for any thread count, and the first sequence as alone (stream 0)
        let options = SamplingOptions(temperature: 1, topP: 1, seed: 5)
        let sampled = try f.model.generate(prompts: prompts, maxNewTokens: 7, sampling: options, threads: 1)
        #expect(try f.model.generate(prompts: prompts, maxNewTokens: 7, sampling: options, threads: 3) == sampled)
        #expect(try f.model.generate(prompts: [prompts[0]], maxNewTokens: 7, sampling: options).ids[0] == sampled.ids[0])
        // a prompt too long for the context with the new tokens is an error, whichever it is
        let limit = f.config.maxPositionEmbeddings
        #expect(throws: ModelError.self) { try f.model.generate(prompts: [[1], Array(repeating: 1, count: limit)], maxNewTokens: 1) }
    }

    @Test(arguments: ["qwen2", "qwen3"])
    func repeatedPromptsArePrefilledOnceWithTheSameResult(family: String) throws {
        // a rollout's groups: the same prompt G times; each copy decodes as that prompt alone
        let f = try GoldenFixture(family)
        let a = Array(f.tokens[0..<6]), b = Array(f.tokens[3..<7])
        let prompts = [a, a, b, a, b, Array(f.tokens[1..<3])]
        let greedy = try f.model.generate(prompts: prompts, maxNewTokens: 6, threads: 2)
        for (i, p) in prompts.enumerated() {
            #expect(try f.model.generate(prompts: [p], maxNewTokens: 6, threads: 1).ids[0] == greedy.ids[i], "\(family) prompt \(i)")
        }
        // sampled with the streams of a lone run, with log-probabilities
        let options = SamplingOptions(temperature: 1, topP: 1, seed: 8)
        let sampled = try f.model.generate(prompts: prompts, maxNewTokens: 6, sampling: options, streams: [7, 1, 2, 3, 4, 5], logprobs: true)
        let alone = try f.model.generate(prompts: [a], maxNewTokens: 6, sampling: options, streams: [7], logprobs: true)
        #expect(sampled.ids[0] == alone.ids[0] && sampled.logprobs![0] == alone.logprobs![0])
    }

    @Test func samplingIsSeededAndTopPRestrictsTheChoice() throws {
        let f = try GoldenFixture("qwen2")
        let prompt = [Array(f.tokens[0..<4]), Array(f.tokens[7..<11])]
        let options = SamplingOptions(temperature: 1, topP: 1, seed: 11)
        let a = try f.model.generate(prompts: prompt, maxNewTokens: 8, sampling: options)
        let b = try f.model.generate(prompts: prompt, maxNewTokens: 8, sampling: options)
        #expect(a == b)
        let c = try f.model.generate(prompts: prompt, maxNewTokens: 8, sampling: SamplingOptions(temperature: 1, topP: 1, seed: 12))
        #expect(a != c)
        // a tiny nucleus keeps only the most likely token: the same as greedy
        let nucleus = try f.model.generate(prompts: prompt, maxNewTokens: 8, sampling: SamplingOptions(temperature: 1, topP: 1e-6, seed: 3))
        #expect(nucleus == (try f.model.generate(prompts: prompt, maxNewTokens: 8)))
    }

    @Test(arguments: [(1, 5), (3, 5), (6, 40), (9, 40)])
    func idsDoNotDependOnThreadsOrCompany(batch: Int, time: Int) throws {
        // prompts run in groups side by side (40-token prompts: groups of 4), decoding steps split
        // the products over the cores: neither may change a sequence's ids, nor may the other
        // sequences of the batch
        let f = try GoldenFixture("qwen3")
        let prompts = (0..<batch).map { b in (0..<time).map { Int32((b * 7 + $0 * 3 + 1) % f.config.vocabSize) } }
        let options = SamplingOptions(temperature: 1, topP: 1, seed: 21)
        let one = try f.model.generate(prompts: prompts, maxNewTokens: 9, sampling: options, threads: 1)
        for threads in [2, 3] {
            #expect(try f.model.generate(prompts: prompts, maxNewTokens: 9, sampling: options, threads: threads) == one, "\(threads) threads")
        }
        #expect(try f.model.generate(prompts: [prompts[0]], maxNewTokens: 9, sampling: options, threads: 2).ids[0] == one.ids[0])
        #expect(one.ids.allSatisfy { $0.count == 9 })
        let greedy = try f.model.generate(prompts: prompts, maxNewTokens: 6, threads: 1)
        #expect(try f.model.generate(prompts: prompts, maxNewTokens: 6, threads: 2) == greedy)
    }

    @Test func samplerFrequenciesFollowTheSoftmax() {
        let logits: [Float] = [0, 1, 2, -1]
        var sampler = Sampler(options: SamplingOptions(temperature: 1, topP: 1, seed: 1))
        var counts = [0, 0, 0, 0]
        for _ in 0..<20000 { counts[Int(logits.withUnsafeBufferPointer { sampler.sample($0.baseAddress!, vocab: 4) })] += 1 }
        let z = logits.map { Double(exp(Double($0))) }.reduce(0, +)
        for i in 0..<4 {
            #expect(abs(Double(counts[i]) / 20000 - exp(Double(logits[i])) / z) < 0.015)
        }
        // top-p 0.7 keeps tokens 2 and 1 (mass 0.665 + 0.245)
        var nucleus = Sampler(options: SamplingOptions(temperature: 1, topP: 0.7, seed: 1))
        for _ in 0..<500 {
            let t = logits.withUnsafeBufferPointer { nucleus.sample($0.baseAddress!, vocab: 4) }
            #expect(t == 1 || t == 2)
        }
    }

    @Test(arguments: [(Float(0), Float(1)), (1, 1), (0.7, 1), (1.3, 0.9)])
    func aSampledTokensLogProbabilityIsTheLogSoftmaxOfItsPass(temperature: Float, topP: Float) {
        // the f32 log-probability from the sampling pass against the f64 reference, on a vocabulary
        // that is not a multiple of the vector width and logits over a wide range; asking for it
        // does not change the draws
        let vocab = 4099
        var rng = Philox(seed: 17)
        let logits = (0..<vocab).map { _ in rng.normal() * 6 }
        let options = SamplingOptions(temperature: temperature, topP: topP, seed: 2)
        var with = Sampler(options: options, stream: 5), without = Sampler(options: options, stream: 5)
        for _ in 0..<50 {
            var lp: Float = .nan
            let (a, b) = logits.withUnsafeBufferPointer { p in
                (with.sample(p.baseAddress!, vocab: vocab, logProbability: &lp), without.sample(p.baseAddress!, vocab: vocab))
            }
            #expect(a == b)
            let reference = logits.withUnsafeBufferPointer { Sampler.logProbability(of: a, $0.baseAddress!, vocab: vocab, temperature: temperature) }
            #expect(abs(lp - reference) <= 1e-5 * max(1, abs(reference)), "token \(a): \(lp) vs \(reference)")
        }
    }

    @Test func badInputsAreErrors() throws {
        let f = try GoldenFixture("llama")
        #expect(throws: ModelError.tokenOutOfVocabulary(id: 64, vocab: 64)) {
            try f.model.generate(prompts: [[1, 64]], maxNewTokens: 1)
        }
        #expect(throws: ModelError.sequenceTooLong(length: 70, limit: 64)) {
            try f.model.generate(prompts: [[1, 2]], maxNewTokens: 68)
        }
        let acts = Activations(config: f.config, batch: 1, time: 2)
        #expect(throws: ModelError.self) { try f.model.forward(tokens: [1, -3], acts: acts) }
    }
}

import Foundation
