// `bridge bench iteration`: the time of one RL-zero iteration and one BRIDGE iteration on the same
// data, stage by stage (rollout, ref-logprobs, lower-step, upper-step), and the process's peak
// RSS. The model is a Hugging Face directory (`--hf DIR`, e.g. a random Qwen2.5-0.5B from
// tools/make_qwen25_05b.py) or a random Qwen2 of the bench flags; prompts and SFT examples are
// random token ids, rewards random 0/1 (seeded): the grader is not what is timed. Each method
// runs two iterations in a temporary store and the second is reported, so BRIDGE's θ̂ differs
// from θ (two backward passes, as in every iteration after the first).

import ArgumentParser
import Checkpoint
import Foundation
import LanguageModel
import Pipeline
import ShardStore
import Tensors
import Training

struct BenchIteration: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "iteration",
        abstract: "Time per stage of an RL-zero and a BRIDGE iteration on the same data, and the peak RSS.")

    @OptionGroup var options: BenchModelOptions
    @Option(help: "A Hugging Face model directory (config.json + safetensors); default: a random model of the bench flags.") var hf: String?
    @Option(help: "RL prompts per iteration.") var prompts = 4
    @Option(help: "Responses per prompt (G).") var group = 4
    @Option(name: .customLong("prompt-len"), help: "Tokens per prompt.") var promptLength = 32
    @Option(name: .customLong("new-tokens"), help: "Tokens per response (at most; a stop token ends one).") var newTokens = 64
    @Option(name: .customLong("sft-batch"), help: "SFT examples per iteration.") var sftBatch = 4
    @Option(name: .customLong("sft-target"), help: "Target tokens per SFT example.") var sftTarget = 64
    @Option(name: .customLong("chunk"), help: "Sequences per forward/backward chunk.") var chunk = 8
    @Option(name: .customLong("generation-batch"), help: "Sequences decoded together.") var generationBatch = 64
    @Option(help: "Iterations per method; the last is reported.") var iterations = 2
    @Option(help: "Where to put the temporary store (default: the system's temporary directory).") var scratch: String?
    @Flag(help: "Print where the reported BRIDGE iteration's time goes (forward/backward phases add their workers' time).") var profile = false

    func run() throws {
        BLAS.threads = options.threads
        KernelThreads.count = options.kernelThreads ?? options.threads
        let dir = (scratch ?? NSTemporaryDirectory()) + "/bridge-bench-\(ProcessInfo.processInfo.processIdentifier)"
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let store = try Store.create(at: dir)
        let theta: TensorSet
        if let hf {
            theta = try store.importHuggingFace(directory: hf)
        } else {
            let config = options.config(context: promptLength + max(newTokens, sftTarget) + 1)
            let model = try Transformer(randomWeights: config, seed: options.seed)
            let configJSON = try JSONValue(parsing: String(decoding: config.hfConfigJSON(), as: UTF8.self))
            var set = TensorSet(tensors: try store.putTensors(model.layout.tensors(of: model.params).map { (name: $0.0, tensor: $0.1) }),
                                metadata: [ModelMetadata.config: configJSON])
            set.id = try store.putTensorSet(set)
            theta = set
        }
        let config = try store.modelConfig(of: theta)
        let vocab = config.vocabSize
        var rng = Philox(seed: Philox.derive(seed: options.seed, purpose: "bench-data"))
        func tokens(_ n: Int) -> [Int32] { (0..<n).map { _ in Int32(rng.below(vocab)) } }
        let rlShard = TokenShard(kind: .rl, sequences: (0..<(prompts * iterations)).map { _ in tokens(promptLength) },
                                 promptLengths: Array(repeating: promptLength, count: prompts * iterations),
                                 answers: Array(repeating: "0", count: prompts * iterations), recordIDs: (0..<(prompts * iterations)).map { "p\($0)" })
        let sftShard = TokenShard(kind: .sft, sequences: (0..<(sftBatch * iterations)).map { _ in tokens(promptLength + sftTarget) },
                                  promptLengths: Array(repeating: promptLength, count: sftBatch * iterations),
                                  answers: Array(repeating: "0", count: sftBatch * iterations), recordIDs: (0..<(sftBatch * iterations)).map { "s\($0)" })
        let rl = try rlShard.store(in: store), sft = try sftShard.store(in: store)
        let grpo = GRPOConfig(beta: 0.001, epsilon: 0.2, lossType: .dapo, temperature: 1, maxCompletionLength: newTokens)
        let adam = AdamWConfig(lr: 1e-6, weightDecay: 0.01, clip: 1)
        let peakBefore = peakRSS()

        func timed<T>(_ name: String, _ times: inout [(String, Double)], _ body: () throws -> T) rethrows -> T {
            let start = Date()
            defer { times.append((name, Date().timeIntervalSince(start))) }
            return try body()
        }
        /// rollout → synthetic scores → ref-logprobs (π_ref = θ⁰).
        func rollout(_ policy: ObjectID, adapter: ObjectID?, step: Int, purpose: String, times: inout [(String, Double)]) throws -> (LowerStepStage.RLInputs, Int) {
            let stage = RolloutStage(policy: policy, adapter: adapter, prompts: rl, cursor: step * prompts, batch: prompts, groupSize: group,
                                     maxNewTokens: newTokens, temperature: 1, seed: options.seed, purpose: purpose, generationBatch: generationBatch)
            let result = try timed(purpose, &times) { try stage.run(in: store) }
            let responses = try result.id("responses")
            let r = try Responses.load(from: store, id: responses)
            var coin = Philox(seed: Philox.derive(seed: options.seed, purpose: "reward-noise", step: UInt64(step)))
            let rewards = (0..<r.count).map { _ in Double(coin.below(2)) }
            let scores = try ScoreStage.storeScores(in: store, responses: responses, groupSize: group, rewards: rewards,
                                                    advantages: GroupAdvantages().compute(rewards: rewards, groupSize: group),
                                                    correct: rewards.map { $0 > 0 }, extracted: rewards.map { _ in "" })
            let ref = try timed("ref-logprobs", &times) {
                try RefLogprobsStage(reference: theta.id!, responses: responses, prompts: rl, temperature: 1, chunk: chunk).run(in: store).id("ref_logprobs")
            }
            return (.init(responses: responses, scores: scores, refLogprobs: ref), result.metrics["tokens"]?.intValue ?? 0)
        }

        // RL-zero
        var rlZeroTimes: [(String, Double)] = [], rlZeroTokens = 0
        var th = theta.id!, opt: ObjectID? = nil
        for k in 0..<iterations {
            var times: [(String, Double)] = []
            let (inputs, n) = try rollout(th, adapter: nil, step: k, purpose: "rollout", times: &times)
            let r = try timed("lower-step", &times) {
                try LowerStepStage(theta: th, thetaOptimizer: opt, prompts: rl, rl: inputs, lambda: 1, grpo: grpo, optimizer: adam, chunk: chunk).run(in: store)
            }
            (th, opt) = (try r.id("theta"), try r.id("theta_optimizer"))
            (rlZeroTimes, rlZeroTokens) = (times, n)
        }
        // BRIDGE, shared shadow rollouts, λ = 0.5
        var bridgeTimes: [(String, Double)] = [], bridgeTokens = 0, lastLower: StageResult? = nil
        var t = theta.id!, hat = theta.id!, w = try LoRAInitStage(base: theta.id!, config: LoRAConfig(r: 16, loraAlpha: 16, targetModules: LoRATarget.allCases),
                                                                   seed: options.seed).run(in: store).id("lora")
        var tOpt: ObjectID? = nil, hatOpt: ObjectID? = nil, wOpt: ObjectID? = nil
        for k in 0..<iterations {
            StepProfile.enabled = profile && k == iterations - 1
            var times: [(String, Double)] = []
            let (inputs, n) = try rollout(t, adapter: w, step: k, purpose: "rollout", times: &times)
            let r = try timed("lower-step", &times) {
                try LowerStepStage(theta: t, thetaOptimizer: tOpt, thetaHat: hat, thetaHatOptimizer: hatOpt, lora: w, sft: sft, sftCursor: k * sftBatch,
                                   sftBatch: sftBatch, seed: options.seed, prompts: rl, rl: inputs, lambda: 0.5, grpo: grpo, optimizer: adam, chunk: chunk).run(in: store)
            }
            let u = try timed("upper-step", &times) {
                try UpperStepStage(lora: w, loraOptimizer: wOpt, loraGrads: try r.id("lora_grads"), optimizer: AdamWConfig(lr: 1e-4, weightDecay: 0.01, clip: 1)).run(in: store)
            }
            (t, tOpt, hat, hatOpt) = (try r.id("theta"), try r.id("theta_optimizer"), try r.id("theta_hat"), try r.id("theta_hat_optimizer"))
            (w, wOpt) = (try u.id("lora"), try u.id("lora_optimizer"))
            (bridgeTimes, bridgeTokens, lastLower) = (times, n, r)
        }
        if profile {
            for (name, seconds) in StepProfile.seconds.sorted(by: { $0.value > $1.value }) {
                FileHandle.standardError.write(Data(String(format: "  %-34@ %8.3f s\n", name, seconds).utf8))
            }
        }
        let rlZeroTotal = rlZeroTimes.reduce(0) { $0 + $1.1 }, bridgeTotal = bridgeTimes.reduce(0) { $0 + $1.1 }
        let rolloutSeconds = bridgeTimes.first { $0.0 == "rollout" }!.1
        let peak = peakRSS()
        let fields: [(String, JSONValue)] = [
            ("parameters", .int(ParameterLayout(config: config).totalCount)), ("blas_kernel", .string(try options.kernel())),
            ("prompts", .int(prompts)), ("group", .int(group)), ("new_tokens", .int(newTokens)), ("prompt_len", .int(promptLength)),
            ("rl_zero", .object(Dictionary(uniqueKeysWithValues: rlZeroTimes.map { ($0.0, .double($0.1)) } + [("total", .double(rlZeroTotal))]))),
            ("bridge", .object(Dictionary(uniqueKeysWithValues: bridgeTimes.map { ($0.0, .double($0.1)) } + [("total", .double(bridgeTotal))]))),
            ("bridge_over_rl_zero", .double(bridgeTotal / rlZeroTotal)),
            ("rollout_tokens", .int(bridgeTokens)), ("rollout_tokens_per_s", .double(Double(bridgeTokens) / rolloutSeconds)),
            ("rl_zero_rollout_tokens", .int(rlZeroTokens)),
            ("rl_zero_rollout_tokens_per_s", .double(Double(rlZeroTokens) / rlZeroTimes.first { $0.0 == "rollout" }!.1)),
            ("bridge_passes", lastLower?.metrics["passes"] ?? .null),
            ("peak_rss_bytes", .int(peak)), ("peak_rss_before_training_bytes", .int(peakBefore)), ("threads", .int(options.threads)),
        ]
        func line(_ name: String, _ times: [(String, Double)], _ total: Double) -> String {
            "\(name): " + times.map { String(format: "%@ %.2f s", $0.0, $0.1) }.joined(separator: ", ") + String(format: "; total %.2f s", total)
        }
        options.emit(fields, text: [
            line("rl-zero", rlZeroTimes, rlZeroTotal), line("bridge ", bridgeTimes, bridgeTotal),
            String(format: "bridge / rl-zero = %.2fx; rollout %d tokens at %.1f tokens/s; peak RSS %.2f GB (%@)",
                   bridgeTotal / rlZeroTotal, bridgeTokens, Double(bridgeTokens) / rolloutSeconds, Double(peak) / 1e9, try options.kernel()),
        ].joined(separator: "\n"))
    }
}

/// The process's peak resident set size in bytes (getrusage; Linux reports KiB).
func peakRSS() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Int(usage.ru_maxrss) * 1024
}
