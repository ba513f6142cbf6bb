// `bridge bench train` and `bridge bench generate`: tokens per second of a random Qwen2 model
// (forward + backward + AdamW; KV-cache sampling), comparable with tools/bench_torch.py which
// takes the same flags. Train also reports the step's GFLOP/s against a measured sgemm peak.

import ArgumentParser
import Foundation
import LanguageModel
import ShardStore
import Tensors
import Training

struct BenchModelOptions: ParsableArguments {
    @Option(help: "Hidden size.") var hidden = 256
    @Option(help: "Decoder layers.") var layers = 4
    @Option(help: "Attention heads.") var heads = 4
    @Option(name: .customLong("kv-heads"), help: "Key/value heads.") var kvHeads = 2
    @Option(help: "MLP intermediate size.") var intermediate = 704
    @Option(help: "Vocabulary size.") var vocab = 4096
    @Option(help: "Sequences per batch.") var batch = 8
    @Option(help: "Tokens per sequence (train) or prompt length (generate).") var seq = 128
    @Option(help: "Threads (BLAS and kernels); default all cores.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(name: .customLong("kernel-threads"), help: "Threads of the non-BLAS kernels (default: --threads).") var kernelThreads: Int?
    @Option(name: .customLong("micro-batch"), help: "Sequences per micro-batch (default: the model's choice for the batch shape).") var microBatch: Int?
    @Option(help: "Timed repetitions.") var steps = 5
    @Option(help: "Untimed warm-up repetitions.") var warmup = 1
    @Option(help: "Seed of the weights and tokens.") var seed: UInt64 = 0
    @Flag(help: "Print a JSON object.") var json = false

    func validate() throws {
        for (name, v) in [("hidden", hidden), ("layers", layers), ("heads", heads), ("kv-heads", kvHeads), ("intermediate", intermediate),
                          ("vocab", vocab), ("batch", batch), ("seq", seq), ("threads", threads), ("steps", steps)] where v <= 0 {
            throw ValidationError("--\(name) must be positive")
        }
        guard heads % kvHeads == 0, hidden % heads == 0 else { throw ValidationError("--heads must divide --hidden and be a multiple of --kv-heads") }
    }

    func config(context: Int) -> ModelConfig {
        ModelConfig(modelType: .qwen2, vocabSize: vocab, hiddenSize: hidden, intermediateSize: intermediate, numHiddenLayers: layers,
                    numAttentionHeads: heads, numKeyValueHeads: kvHeads, maxPositionEmbeddings: max(context, 1))
    }

    func randomTokens(_ n: Int, stream: UInt64) -> [Int32] {
        var rng = Philox(seed: seed, stream: stream)
        return (0..<n).map { _ in Int32(rng.below(vocab)) }
    }

    /// The BLAS kernel in use, for the report ("Cooperlake (corrected from Prescott)").
    func kernel() throws -> String { try BLAS.kernel().summary }

    func emit(_ fields: [(String, JSONValue)], text: String) {
        if json { printJSON(.object(Dictionary(uniqueKeysWithValues: fields))) } else { print(text) }
    }
}

/// Median of repeated timings, in seconds.
func timeRepeated(_ steps: Int, warmup: Int, _ body: () throws -> Void) rethrows -> [Double] {
    for _ in 0..<warmup { try body() }
    return try (0..<steps).map { _ in
        let start = DispatchTime.now().uptimeNanoseconds
        try body()
        return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
    }
}

func median(_ xs: [Double]) -> Double { let s = xs.sorted(); return s[s.count / 2] }

struct BenchTrain: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "train", abstract: "Training step (forward + backward + AdamW) on batch×seq random tokens.")
    @OptionGroup var options: BenchModelOptions
    @Flag(name: .customLong("no-peak"), help: "Skip measuring the sgemm peak.") var noPeak = false
    @Flag(help: "Print where the step's time goes (per phase, mean per step; phases run by several workers add their threads' time).") var profile = false

    func run() throws {
        let o = options
        KernelThreads.count = o.kernelThreads ?? o.threads
        BLAS.threads = o.threads
        let config = o.config(context: o.seq)
        let model = try Transformer(randomWeights: config, seed: o.seed)
        let acts = Activations(config: config, batch: o.batch, time: o.seq, microBatch: o.microBatch)
        acts.threads = o.threads
        let grads = FloatBuffer(count: model.layout.totalCount)
        let opt = AdamW(config: AdamWConfig(lr: 1e-4), count: model.layout.totalCount)
        let tokens = o.randomTokens(o.batch * o.seq, stream: 1)
        var targets = tokens
        for b in 0..<o.batch {
            for t in 0..<o.seq { targets[b * o.seq + t] = t + 1 < o.seq ? tokens[b * o.seq + t + 1] : -100 }
        }
        var loss: Float = 0
        var optimizerSeconds = 0.0
        StepProfile.enabled = profile
        let times = try timeRepeated(o.steps, warmup: o.warmup) {
            loss = try model.forward(tokens: tokens, targets: targets, acts: acts) ?? 0
            model.backward(acts: acts, grads: grads)
            let start = DispatchTime.now().uptimeNanoseconds
            opt.update(params: model.params, grads: grads, clearGrads: true)
            optimizerSeconds += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
        }
        if profile {
            var rows = StepProfile.seconds
            rows["adamw (incl. grad norm)"] = optimizerSeconds
            printProfile(rows, calls: o.warmup + o.steps)
        }
        let step = median(times)
        let n = Double(o.batch * o.seq)
        let attention = 12 * Double(o.batch * config.numAttentionHeads * o.seq * o.seq * config.headDim) * Double(o.layers)
        let flops = 3 * model.matmulFlopsPerToken * n + attention
        let peak = noPeak ? 0 : Throughput.sgemm(n: 1536, repeats: 3)
        o.emit([("tokens_per_s", .double(n / step)), ("step_ms", .double(step * 1000)), ("gflops", .double(flops / step / 1e9)),
                ("sgemm_peak_gflops", .double(peak)), ("flops_per_step", .double(flops)), ("parameters", .int(model.layout.totalCount)),
                ("activation_floats", .int(acts.floatCount)), ("threads", .int(o.threads)), ("loss", .double(Double(loss))),
                ("step_ms_all", .array(times.map { .double($0 * 1000) })), ("blas_kernel", .string(try o.kernel()))],
               text: String(format: "bench train: %.0f tokens/s, %.1f ms/step, %.1f GFLOP/s (sgemm peak %.1f), %d parameters, %d threads, loss %.3f, BLAS kernel %@",
                            n / step, step * 1000, flops / step / 1e9, peak, model.layout.totalCount, o.threads, loss, try o.kernel()))
    }

}

struct BenchGenerate: ParsableCommand {
    static let configuration = CommandConfiguration(commandName: "generate", abstract: "Sampling at temperature 1 with a KV cache after batch prompts of seq random tokens.")
    @OptionGroup var options: BenchModelOptions
    @Option(name: .customLong("new-tokens"), help: "Tokens generated per sequence.") var newTokens = 64
    @Flag(help: "Print where the time goes (per phase, mean per generate call; prompts run by several workers add their threads' time).") var profile = false

    func run() throws {
        let o = options
        KernelThreads.count = o.kernelThreads ?? o.threads
        BLAS.threads = o.threads
        let config = o.config(context: o.seq + newTokens)
        let model = try Transformer(randomWeights: config, seed: o.seed)
        let tokens = o.randomTokens(o.batch * o.seq, stream: 2)
        let prompts = (0..<o.batch).map { Array(tokens[($0 * o.seq)..<(($0 + 1) * o.seq)]) }
        var produced = 0
        StepProfile.enabled = profile
        let times = try timeRepeated(o.steps, warmup: o.warmup) {
            let r = try model.generate(prompts: prompts, maxNewTokens: newTokens, sampling: SamplingOptions(temperature: 1, topP: 1, seed: o.seed))
            produced = r.ids.reduce(0) { $0 + $1.count }
        }
        let t = median(times)
        if profile { printProfile(StepProfile.seconds, calls: o.warmup + o.steps) }
        o.emit([("tokens_per_s", .double(Double(produced) / t)), ("seconds", .double(t)), ("new_tokens", .int(produced)),
                ("threads", .int(o.threads)), ("parameters", .int(model.layout.totalCount)), ("blas_kernel", .string(try o.kernel()))],
               text: String(format: "bench generate: %.0f new tokens/s (%d tokens in %.3f s), %d threads, BLAS kernel %@",
                            Double(produced) / t, produced, t, o.threads, try o.kernel()))
    }
}

/// Seconds per phase as mean milliseconds per call, largest first, on stderr.
private func printProfile(_ rows: [String: Double], calls: Int) {
    for (name, s) in rows.sorted(by: { $0.value > $1.value }) {
        FileHandle.standardError.write(Data((name.padding(toLength: 28, withPad: " ", startingAt: 0) + String(format: "%8.2f ms\n", s / Double(calls) * 1000)).utf8))
    }
}
