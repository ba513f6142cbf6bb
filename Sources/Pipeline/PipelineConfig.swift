// Pipeline files (DESIGN.md §3, schemas/pipeline.schema.json): YAML parsed with Yams, read
// strictly — an unknown key, a value of the wrong type or out of its domain is an error naming
// the file, the line and the key path — with every default filled in. The canonical config (a
// JSON object, keys sorted) is what the run stores and keys by, so `bridge status` shows exactly
// what ran. `--set key.path=value` overrides (value read as YAML) apply before validation.

import Foundation
import LanguageModel
import ShardStore
import Tokenizers
import Training
import Yams
import Tensors

public struct PipelineConfigError: Error, CustomStringConvertible {
    public let description: String
}

/// A dataset in a pipeline file.
public struct DataSpec: Sendable, Equatable {
    public enum Source: Sendable, Equatable {
        case synthetic(level: Int, count: Int, split: String, seed: UInt64, family: String = "arithmetic")
        /// One JSONL file, or several read as one (MATH's train split comes as one file per subject).
        case file(paths: [String], format: String?)
    }
    public var source: Source
    public var limit: Int?
    public var name: String

    var json: JSONValue {
        var o: [String: JSONValue] = ["name": .string(name)]
        switch source {
        case let .synthetic(level, count, split, seed, family):
            o["source"] = "synthetic"; o["level"] = .int(level); o["count"] = .int(count); o["split"] = .string(split); o["seed"] = .int(Int(seed))
            if family != SyntheticArithmetic.Family.arithmetic.rawValue { o["family"] = .string(family) }
        case let .file(paths, format):
            o["file"] = paths.count == 1 ? .string(paths[0]) : .array(paths.map { .string($0) })
            if let format { o["format"] = .string(format) }
        }
        if let limit { o["limit"] = .int(limit) }
        return .object(o)
    }
}

public struct PipelineConfig: Sendable, Equatable {
    public enum ModelSource: Sendable, Equatable {
        case ref(String)
        case hf(String)
        case llama2c(file: String, tokenizer: String)
    }

    public var seed: UInt64
    public var model: ModelSource
    public var template: String
    /// "instruction" (the problem and the evaluation instruction) or "plain" (the problem alone).
    public var promptStyle = "instruction"
    public var sft: DataSpec?
    public var rl: DataSpec?
    public var eval: [DataSpec]
    public var method: TrainingMethod
    public var steps: Int
    public var optimizer: AdamWConfig
    public var sftBatchSize: Int
    public var microBatchSize: Int
    public var promptsPerStep: Int
    public var numGenerations: Int
    public var topP: Double
    public var grpo: GRPOConfig
    public var scaleRewards: ScaleRewards
    public var advantageEpsilon: Double
    /// Probability of flipping each RL response's correctness before its reward (0: none).
    public var rewardNoise: Double
    public var numIterations: Int
    public var generationBatchSize: Int
    public var lambda: LambdaSchedule
    public var shadowRollouts: String
    public var lora: LoRAConfig
    public var loraOptimizer: AdamWConfig
    public var coldStartSFTSteps: Int
    public var evalEvery: Int
    public var keepLast: Int
    public var keepEvery: Int
    public var evalMaxNewTokens: Int

    /// The canonical config: every key, defaults filled in.
    public var json: JSONValue
    /// Where the keys came from (file and line, or --set), for errors found after parsing.
    var origin = Reader(file: "", lines: [:])

    /// An error about a key found after parsing (a file that does not exist, a ref the store
    /// lacks), naming the file and line as the parser's do.
    public func error(at path: String, _ why: String) -> PipelineConfigError { origin.fail(path, why) }

    /// Two configs are equal when their canonical configs are (wherever they were read from).
    public static func == (a: PipelineConfig, b: PipelineConfig) -> Bool { a.json == b.json }

    /// Parses and validates a pipeline file's text with `overrides` ("key.path=value").
    public static func parse(yaml text: String, file: String, overrides: [String] = []) throws -> PipelineConfig {
        var lines: [String: Int] = [:]
        let node: Node?
        try YAMLBounds.check(text, file: file)
        do { node = try Yams.compose(yaml: text) } catch {
            // Yams quotes the offending line; a hostile file's line can be megabytes long.
            let message = "\(error)".split(separator: "\n", omittingEmptySubsequences: false)
                .map { line -> String in line.count > 200 ? String(line.prefix(200)) + "…" : String(line) }.joined(separator: "\n")
            throw PipelineConfigError(description: "\(file): not valid YAML: \(message)")
        }
        var tree = try node.map { try toJSON($0, path: "", lines: &lines, file: file) } ?? .object([:])
        for o in overrides {
            guard let eq = o.firstIndex(of: "="), eq != o.startIndex else {
                throw PipelineConfigError(description: "--set '\(o)': expected key.path=value")
            }
            let path = String(o[..<eq]), valueText = String(o[o.index(after: eq)...])
            var scratch: [String: Int] = [:]
            try YAMLBounds.check(valueText, file: "--set \(path)")
            let value = try (try? Yams.compose(yaml: valueText)).flatMap { $0 }.map { try toJSON($0, path: path, lines: &scratch, file: "--set") } ?? .string(valueText)
            guard Reader.knownPaths.contains(path) || Reader.knownPaths.contains(where: { path.hasPrefix($0 + ".") && Reader.openObjects.contains($0) }) else {
                throw PipelineConfigError(description: "--set \(path): no such key in a pipeline file (see schemas/pipeline.schema.json)")
            }
            tree = set(tree, path: path.split(separator: ".").map(String.init), value: value)
            lines[path] = -1
        }
        return try Reader(file: file, lines: lines).config(tree)
    }

    public static func load(path: String, overrides: [String] = []) throws -> PipelineConfig {
        let bytes: [UInt8]
        do { bytes = try InputFile.read(path) } catch {
            throw PipelineConfigError(description: "\(path): cannot read the pipeline file: \(error.reason)")
        }
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw PipelineConfigError(description: "\(path): cannot read the pipeline file: not UTF-8 text")
        }
        return try parse(yaml: text, file: path, overrides: overrides)
    }

    static func set(_ tree: JSONValue, path: [String], value: JSONValue) -> JSONValue {
        guard let first = path.first else { return value }
        var o = tree.objectValue ?? [:]
        o[first] = set(o[first] ?? .object([:]), path: Array(path.dropFirst()), value: value)
        return .object(o)
    }

    /// Yams nodes → JSON values, remembering each key path's line.
    static func toJSON(_ node: Node, path: String, lines: inout [String: Int], file: String) throws -> JSONValue {
        if let line = node.mark?.line, lines[path] == nil { lines[path] = line }
        switch node {
        case let .mapping(m):
            var o: [String: JSONValue] = [:]
            for (k, v) in m {
                guard let key = k.string else { throw PipelineConfigError(description: "\(file):\(k.mark?.line ?? 0): keys must be strings") }
                let p = path.isEmpty ? key : path + "." + key
                if o[key] != nil { throw PipelineConfigError(description: "\(file):\(k.mark?.line ?? 0): '\(p)' appears twice") }
                if let line = k.mark?.line { lines[p] = line }
                o[key] = try toJSON(v, path: p, lines: &lines, file: file)
            }
            return .object(o)
        case let .sequence(s):
            return .array(try s.enumerated().map { try toJSON($1, path: "\(path)[\($0)]", lines: &lines, file: file) })
        case let .scalar(sc):
            if sc.style == .plain {
                if sc.string == "null" || sc.string == "~" || sc.string.isEmpty { return .null }
                if let b = node.bool { return .bool(b) }
                // Yams reads a plain scalar with ':' as a base-60 number ("1:30" is 90) and traps
                // when one overflows ("1:2:3:4:5:6:7:8:9:10:11"); pipeline files have none.
                if !sc.string.contains(":") {
                    if let i = node.int { return .int(i) }
                    if let d = node.float { return .double(d) }
                }
            }
            return .string(sc.string)
        case .alias:
            throw PipelineConfigError(description: "\(file):\(node.mark?.line ?? 0): YAML aliases are not supported in pipeline files")
        }
    }
}

/// Strict typed reading with errors that name file, line and key path.
struct Reader {
    let file: String
    let lines: [String: Int]

    /// Every key path a pipeline file may hold (for --set).
    static let knownPaths: Set<String> = [
        "seed", "model", "model.ref", "model.hf", "model.llama2c", "model.tokenizer", "data", "data.template", "data.prompt_style", "data.sft", "data.rl", "data.eval",
        "method", "steps", "train", "train.learning_rate", "train.weight_decay", "train.max_grad_norm", "train.sft_batch_size", "train.micro_batch_size",
        "rl", "rl.prompts_per_step", "rl.num_generations", "rl.temperature", "rl.top_p", "rl.max_completion_length", "rl.beta", "rl.epsilon",
        "rl.epsilon_high", "rl.loss_type", "rl.scale_rewards", "rl.advantage_epsilon", "rl.reward_noise", "rl.num_iterations", "rl.generation_batch_size",
        "bridge", "bridge.lambda", "bridge.shadow_rollouts", "bridge.lora", "bridge.lora.r", "bridge.lora.lora_alpha", "bridge.lora.target_modules",
        "bridge.lora_learning_rate", "bridge.lora_weight_decay", "bridge.lora_max_grad_norm", "cold_start", "cold_start.sft_steps",
        "schedule", "schedule.eval_every", "schedule.keep_last", "schedule.keep_every", "evaluation", "evaluation.max_new_tokens",
    ]
    /// Objects whose inner keys are checked where they are read (data sets, the λ schedule).
    static let openObjects: Set<String> = ["data.sft", "data.rl", "bridge.lambda"]

    func fail(_ path: String, _ why: String) -> PipelineConfigError {
        var p = path
        var line = lines[p]
        while line == nil, let dot = p.lastIndex(where: { $0 == "." || $0 == "[" }) { p = String(p[..<dot]); line = lines[p] }
        let at = line == -1 ? "--set" : line.map { "\(file):\($0)" } ?? file
        return PipelineConfigError(description: "\(at): '\(path)': \(why)")
    }

    func object(_ v: JSONValue?, _ path: String, known: [String]) throws -> [String: JSONValue] {
        guard let v, v != .null else { return [:] }
        guard let o = v.objectValue else { throw fail(path, "expected a mapping, got \(v)") }
        if let extra = o.keys.sorted().first(where: { !known.contains($0) }) {
            throw fail(path.isEmpty ? extra : path + "." + extra, "unknown key (known here: \(known.joined(separator: ", ")))")
        }
        return o
    }

    func int(_ o: [String: JSONValue], _ key: String, _ path: String, _ def: Int, min: Int = 0) throws -> Int {
        let p = path.isEmpty ? key : path + "." + key
        guard let v = o[key], v != .null else { return def }
        guard let i = v.intValue else { throw fail(p, "expected an integer, got \(v)") }
        guard i >= min else { throw fail(p, "must be ≥ \(min), got \(i)") }
        return i
    }

    func number(_ o: [String: JSONValue], _ key: String, _ path: String, _ def: Double, min: Double? = 0, max: Double? = nil, above: Double? = nil) throws -> Double {
        let p = path.isEmpty ? key : path + "." + key
        guard let v = o[key], v != .null else { return def }
        guard let d = v.doubleValue ?? v.intValue.map(Double.init) else { throw fail(p, "expected a number, got \(v)") }
        if let min, d < min { throw fail(p, "must be ≥ \(min), got \(d)") }
        if let max, d > max { throw fail(p, "must be ≤ \(max), got \(d)") }
        if let above, !(d > above) { throw fail(p, "must be > \(above), got \(d)") }
        return d
    }

    func string(_ o: [String: JSONValue], _ key: String, _ path: String, _ def: String?, oneOf: [String]? = nil) throws -> String? {
        let p = path.isEmpty ? key : path + "." + key
        guard let v = o[key], v != .null else { return def }
        guard let s = v.stringValue else { throw fail(p, "expected a string, got \(v)") }
        if let oneOf, !oneOf.contains(s) { throw fail(p, "must be one of \(oneOf.joined(separator: ", ")), got '\(s)'") }
        return s
    }

    func dataSpec(_ v: JSONValue?, _ path: String, name: String, split: String) throws -> DataSpec? {
        guard let v, v != .null else { return nil }
        let o = try object(v, path, known: ["source", "file", "format", "level", "count", "split", "seed", "limit", "name", "family"])
        let limit = o["limit"] == nil ? nil : try int(o, "limit", path, 0, min: 1)
        let n = try string(o, "name", path, name) ?? name
        if let f = o["file"], f != .null {
            let files: [String]
            if let one = f.stringValue { files = [one] } else if let list = f.arrayValue, !list.isEmpty, list.allSatisfy({ $0.stringValue != nil }) {
                files = list.map { $0.stringValue! }
            } else {
                throw fail(path + ".file", "expected a path or a non-empty list of paths, got \(f)")
            }
            if o["source"] != nil { throw fail(path + ".source", "give either source: synthetic or file: PATH") }
            let format = try string(o, "format", path, nil, oneOf: DatasetFormat.allCases.map(\.rawValue))
            return DataSpec(source: .file(paths: files, format: format), limit: limit, name: n)
        }
        _ = try string(o, "source", path, nil, oneOf: ["synthetic"]) ?? { throw fail(path, "needs source: synthetic or file: PATH") }()
        return DataSpec(source: .synthetic(level: try int(o, "level", path, SyntheticArithmetic.defaultLevel, min: 1),
                                           count: try int(o, "count", path, 1024, min: 1),
                                           split: try string(o, "split", path, split, oneOf: SyntheticArithmetic.Split.allCases.map(\.rawValue))!,
                                           seed: UInt64(try int(o, "seed", path, Int(SyntheticArithmetic.defaultSeed))),
                                           family: try string(o, "family", path, "arithmetic", oneOf: SyntheticArithmetic.Family.allCases.map(\.rawValue))!),
                        limit: limit, name: n)
    }

    func lambda(_ v: JSONValue?, _ path: String) throws -> LambdaSchedule {
        guard let v, v != .null else { return .constant(0.5) }
        if let d = v.doubleValue ?? v.intValue.map(Double.init) { let s = LambdaSchedule.constant(d); try validate(s, path); return s }
        let o = try object(v, path, known: ["schedule", "value", "start", "end", "steps", "points", "gamma"])
        let kind = try string(o, "schedule", path, "constant", oneOf: ["constant", "linear", "steps", "penalty"])!
        let s: LambdaSchedule
        switch kind {
        case "linear": s = .linear(start: try number(o, "start", path, 0.1), end: try number(o, "end", path, 0.9), steps: try int(o, "steps", path, 10, min: 1))
        case "steps":
            guard let points = o["points"]?.arrayValue else { throw fail(path + ".points", "expected a list of {from, value}") }
            s = .steps(try points.enumerated().map { i, p in
                let q = try object(p, "\(path).points[\(i)]", known: ["from", "value"])
                return .init(from: try int(q, "from", "\(path).points[\(i)]", 0), value: try number(q, "value", "\(path).points[\(i)]", 0.5))
            })
        case "penalty": s = .penalty(gamma: try number(o, "gamma", path, 1))
        default: s = .constant(try number(o, "value", path, 0.5))
        }
        try validate(s, path)
        return s
    }

    func validate(_ s: LambdaSchedule, _ path: String) throws {
        do { try s.validate(key: path) } catch let TrainingConfigError.invalid(key, why) { throw fail(key, why) }
    }

    func config(_ tree: JSONValue) throws -> PipelineConfig {
        let top = try object(tree, "", known: ["seed", "model", "data", "method", "steps", "train", "rl", "bridge", "cold_start", "schedule", "evaluation"])
        let seed = UInt64(try int(top, "seed", "", 0))
        let m = try object(top["model"], "model", known: ["ref", "hf", "llama2c", "tokenizer"])
        let model: PipelineConfig.ModelSource
        let named = ["ref", "hf", "llama2c"].filter { m[$0] != nil }
        if named.count > 1 { throw fail("model", "names \(named.joined(separator: " and ")): give one of ref, hf or llama2c") }
        if let r = try string(m, "ref", "model", nil) { model = .ref(r) }
        else if let h = try string(m, "hf", "model", nil) { model = .hf(h) }
        else if let l = try string(m, "llama2c", "model", nil) {
            guard let t = try string(m, "tokenizer", "model", nil) else { throw fail("model.tokenizer", "a llama2c model needs its tokenizer file") }
            model = .llama2c(file: l, tokenizer: t)
        } else { throw fail("model", "needs ref: NAME, hf: DIR or llama2c: FILE with tokenizer: FILE") }

        guard let methodName = try string(top, "method", "", nil) else { throw fail("method", "is required (\(TrainingMethod.allCases.map(\.rawValue).joined(separator: ", ")))") }
        guard let method = TrainingMethod(rawValue: methodName) else {
            throw fail("method", "unknown method '\(methodName)' (\(TrainingMethod.allCases.map(\.rawValue).joined(separator: ", ")))")
        }
        let d = try object(top["data"], "data", known: ["template", "prompt_style", "sft", "rl", "eval"])
        let template = try string(d, "template", "data", "raw", oneOf: ChatTemplate.names)!
        let sft = try dataSpec(d["sft"], "data.sft", name: "sft", split: "train")
        let rl = try dataSpec(d["rl"], "data.rl", name: "rl", split: "train")
        var eval: [DataSpec] = []
        if let e = d["eval"], e != .null {
            guard let list = e.arrayValue else { throw fail("data.eval", "expected a list of data sets") }
            eval = try list.enumerated().map { i, v in try dataSpec(v, "data.eval[\(i)]", name: "eval\(i)", split: "test")! }
            if Set(eval.map(\.name)).count != eval.count { throw fail("data.eval", "names must differ") }
        }
        let steps = try int(top, "steps", "", 10, min: 0)

        let t = try object(top["train"], "train", known: ["learning_rate", "weight_decay", "max_grad_norm", "sft_batch_size", "micro_batch_size"])
        let optimizer = AdamWConfig(lr: Float(try number(t, "learning_rate", "train", 1e-5)), weightDecay: Float(try number(t, "weight_decay", "train", 0.01)),
                                    clip: Float(try number(t, "max_grad_norm", "train", 1.0)))
        let r = try object(top["rl"], "rl", known: ["prompts_per_step", "num_generations", "temperature", "top_p", "max_completion_length", "beta", "epsilon",
                                                    "epsilon_high", "loss_type", "scale_rewards", "advantage_epsilon", "reward_noise", "num_iterations", "generation_batch_size"])
        let maxCompletion = try int(r, "max_completion_length", "rl", 256, min: 1)
        let epsHigh = r["epsilon_high"] == nil ? nil : try number(r, "epsilon_high", "rl", 0.2, above: 0)
        let grpo = GRPOConfig(beta: try number(r, "beta", "rl", 0.001), epsilon: try number(r, "epsilon", "rl", 0.2, above: 0),
                              epsilonHigh: epsHigh, lossType: GRPOLossType(rawValue: try string(r, "loss_type", "rl", "dapo", oneOf: GRPOLossType.allCases.map(\.rawValue))!)!,
                              temperature: try number(r, "temperature", "rl", 1.0, above: 0), maxCompletionLength: maxCompletion)
        do { try grpo.validate() } catch let TrainingConfigError.invalid(key, why) { throw fail(key, why) }
        let numGenerations = try int(r, "num_generations", "rl", 4, min: 2)

        let b = try object(top["bridge"], "bridge", known: ["lambda", "shadow_rollouts", "lora", "lora_learning_rate", "lora_weight_decay", "lora_max_grad_norm"])
        let l = try object(b["lora"], "bridge.lora", known: ["r", "lora_alpha", "target_modules"])
        var targets = LoRATarget.allCases
        if let tm = l["target_modules"], tm != .null {
            if tm.stringValue == "all-linear" { targets = LoRATarget.allCases } else {
                guard let names = tm.arrayValue else { throw fail("bridge.lora.target_modules", "expected all-linear or a list of module names") }
                targets = try names.map { n in
                    guard let s = n.stringValue, let t = LoRATarget(rawValue: s) else {
                        throw fail("bridge.lora.target_modules", "unknown module \(n) (q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, down_proj)")
                    }
                    return t
                }
            }
        }
        let lora = LoRAConfig(r: try int(l, "r", "bridge.lora", 16, min: 1), loraAlpha: try number(l, "lora_alpha", "bridge.lora", 16, above: 0), targetModules: targets)
        let loraOptimizer = AdamWConfig(lr: Float(try number(b, "lora_learning_rate", "bridge", 1e-4)), weightDecay: Float(try number(b, "lora_weight_decay", "bridge", 0.01)),
                                        clip: Float(try number(b, "lora_max_grad_norm", "bridge", 1.0)))
        let c = try object(top["cold_start"], "cold_start", known: ["sft_steps"])
        let s = try object(top["schedule"], "schedule", known: ["eval_every", "keep_last", "keep_every"])
        let e = try object(top["evaluation"], "evaluation", known: ["max_new_tokens"])

        var config = PipelineConfig(
            seed: seed, model: model, template: template, sft: sft, rl: rl, eval: eval, method: method, steps: steps,
            optimizer: optimizer, sftBatchSize: try int(t, "sft_batch_size", "train", 16, min: 1), microBatchSize: try int(t, "micro_batch_size", "train", 8, min: 1),
            promptsPerStep: try int(r, "prompts_per_step", "rl", 8, min: 1), numGenerations: numGenerations, topP: try number(r, "top_p", "rl", 1, max: 1, above: 0),
            grpo: grpo, scaleRewards: ScaleRewards(rawValue: try string(r, "scale_rewards", "rl", "group", oneOf: ScaleRewards.allCases.map(\.rawValue))!)!,
            advantageEpsilon: try number(r, "advantage_epsilon", "rl", 1e-6), rewardNoise: try number(r, "reward_noise", "rl", 0, max: 1),
            numIterations: try int(r, "num_iterations", "rl", 1, min: 1),
            generationBatchSize: try int(r, "generation_batch_size", "rl", 64, min: 1),
            lambda: try lambda(b["lambda"], "bridge.lambda"), shadowRollouts: try string(b, "shadow_rollouts", "bridge", "shared", oneOf: ["shared", "separate"])!,
            lora: lora, loraOptimizer: loraOptimizer, coldStartSFTSteps: try int(c, "sft_steps", "cold_start", 5, min: 0),
            evalEvery: try int(s, "eval_every", "schedule", 0, min: 0), keepLast: try int(s, "keep_last", "schedule", 3, min: 1),
            keepEvery: try int(s, "keep_every", "schedule", 0, min: 0), evalMaxNewTokens: try int(e, "max_new_tokens", "evaluation", 256, min: 1),
            json: .null)
        config.promptStyle = try string(d, "prompt_style", "data", "instruction", oneOf: ["instruction", "plain"])!
        // what each method needs
        let needsSFT = method != .rlZero, needsRL = method != .sft
        if needsSFT, sft == nil { throw fail("data.sft", "method \(method.rawValue) needs SFT data") }
        if needsRL, rl == nil { throw fail("data.rl", "method \(method.rawValue) needs RL prompts") }
        config.json = config.canonical
        config.origin = self
        return config
    }
}

extension PipelineConfig {
    var lambdaJSON: JSONValue {
        switch lambda {
        case let .constant(v): ["schedule": "constant", "value": .double(v)]
        case let .linear(start, end, steps): ["schedule": "linear", "start": .double(start), "end": .double(end), "steps": .int(steps)]
        case let .steps(points): ["schedule": "steps", "points": .array(points.map { ["from": .int($0.from), "value": .double($0.value)] })]
        case let .penalty(gamma): ["schedule": "penalty", "gamma": .double(gamma)]
        }
    }

    /// A Float setting as the decimal the user wrote (0.01, not 0.009999999776).
    func decimal(_ x: Float) -> JSONValue { .double(Double("\(x)") ?? Double(x)) }

    var canonical: JSONValue {
        let modelJSON: JSONValue = switch model {
        case let .ref(r): ["ref": .string(r)]
        case let .hf(h): ["hf": .string(h)]
        case let .llama2c(f, t): ["llama2c": .string(f), "tokenizer": .string(t)]
        }
        var data: [String: JSONValue] = ["template": .string(template), "eval": .array(eval.map(\.json))]
        if promptStyle != "instruction" { data["prompt_style"] = .string(promptStyle) }  // earlier configs keep their identity
        if let sft { data["sft"] = sft.json }
        if let rl { data["rl"] = rl.json }
        var rlJSON: [String: JSONValue] = [
            "prompts_per_step": .int(promptsPerStep), "num_generations": .int(numGenerations), "temperature": .double(grpo.temperature),
            "top_p": .double(topP), "max_completion_length": .int(grpo.maxCompletionLength), "beta": .double(grpo.beta), "epsilon": .double(grpo.epsilon),
            "loss_type": .string(grpo.lossType.rawValue), "scale_rewards": .string(scaleRewards.rawValue), "advantage_epsilon": .double(advantageEpsilon), "reward_noise": .double(rewardNoise),
            "num_iterations": .int(numIterations), "generation_batch_size": .int(generationBatchSize),
        ]
        if let h = grpo.epsilonHigh { rlJSON["epsilon_high"] = .double(h) }
        return [
            "seed": .int(Int(seed)), "model": modelJSON, "data": .object(data), "method": .string(method.rawValue), "steps": .int(steps),
            "train": ["learning_rate": decimal(optimizer.lr), "weight_decay": decimal(optimizer.weightDecay),
                      "max_grad_norm": decimal(optimizer.clip ?? 0), "sft_batch_size": .int(sftBatchSize), "micro_batch_size": .int(microBatchSize)],
            "rl": .object(rlJSON),
            "bridge": ["lambda": lambdaJSON, "shadow_rollouts": .string(shadowRollouts),
                       "lora": ["r": .int(lora.r), "lora_alpha": .double(lora.loraAlpha), "target_modules": .array(lora.targetModules.map { .string($0.rawValue) })],
                       "lora_learning_rate": decimal(loraOptimizer.lr), "lora_weight_decay": decimal(loraOptimizer.weightDecay),
                       "lora_max_grad_norm": decimal(loraOptimizer.clip ?? 0)],
            "cold_start": ["sft_steps": .int(coldStartSFTSteps)],
            "schedule": ["eval_every": .int(evalEvery), "keep_last": .int(keepLast), "keep_every": .int(keepEvery)],
            "evaluation": ["max_new_tokens": .int(evalMaxNewTokens)],
        ]
    }

    /// The config without `steps` (a longer run of the same pipeline is the same run).
    public var identity: JSONValue {
        var o = json.objectValue ?? [:]
        o.removeValue(forKey: "steps")
        return .object(o)
    }
}

extension PipelineConfigError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}
