// The score stage: responses + the prompt shard's reference answers → rewards, GRPO group
// advantages and reward metrics (ALGORITHM.md: rule-based reward, A_i = (R_i − mean)/(std + eps)
// with the sample std per group, all-equal groups get 0). Responses are decoded with the
// tokenizer (special tokens skipped) and graded by Training's MathReward.
//
// Output tensor set: rewards f32 [N], advantages f32 [N], correct u8 [N], and the extracted
// answers as UTF-8 (extracted u8 + extracted_offsets i64 [N+1]).

import Checkpoint
import ShardStore
import Tensors
import Tokenizers
import Training

public struct ScoreStage: Stage {
    public static let name = "score"
    public static let version = 2

    public var responses: ObjectID
    public var prompts: ObjectID
    public var tokenizer: ObjectID
    public var reward: MathRewardConfig
    /// ε_std of the advantages (TRL 1e-4, verl 1e-6): not the clip `epsilon`.
    public var advantageEpsilon: Double
    public var scaleRewards: ScaleRewards
    /// Probability that a response's correctness is flipped before its reward is computed (the
    /// paper's noisy-reward robustness setting); 0 = none. Response j flips when the j-th draw of
    /// the `reward-noise` Philox stream `noiseSeed` is below it, so a run is reproducible.
    public var rewardNoise: Double = 0
    public var noiseSeed: UInt64 = 0

    public init(responses: ObjectID, prompts: ObjectID, tokenizer: ObjectID, reward: MathRewardConfig = .zeroOne,
                advantageEpsilon: Double = 1e-6, scaleRewards: ScaleRewards = .group) {
        self.scaleRewards = scaleRewards
        self.responses = responses
        self.prompts = prompts
        self.tokenizer = tokenizer
        self.reward = reward
        self.advantageEpsilon = advantageEpsilon
    }

    public var params: JSONValue {
        var p: [String: JSONValue] = [
            "reward": ["correct_reward": .double(reward.correctReward), "incorrect_reward": .double(reward.incorrectReward),
                       "format_reward": .double(reward.formatReward), "relative_tolerance": .double(reward.relativeTolerance)],
            "advantage_epsilon": .double(advantageEpsilon), "scale_rewards": .string(scaleRewards.rawValue)]
        if rewardNoise > 0 { p["reward_noise"] = .double(rewardNoise); p["noise_seed"] = .string(String(noiseSeed, radix: 16)) }
        return .object(p)
    }

    public var inputs: [String: JSONValue] {
        ["responses": .string(responses.hex), "prompts": .string(prompts.hex), "tokenizer": .string(tokenizer.hex)]
    }

    public func run(in store: Store) throws -> StageResult {
        let (r, shard) = try Responses.load(from: store, id: responses, answering: prompts)
        let tok = try TokenizerLoader.load(bytes: try store.read(tokenizer).array, name: "tokenizer \(tokenizer.hex.prefix(12))")
        let scorer = MathReward(config: reward)

        let texts = r.tokens.map { tok.decode($0, skipSpecialTokens: true) }
        var outcomes = [RewardOutcome?](repeating: nil, count: r.count)
        outcomes.withUnsafeMutableBufferPointer { out in
            parallelFor(r.count) { j in
                out[j] = scorer.score(response: texts[j], reference: shard.answers[r.promptIndex[j]])
            }
        }
        let scored = outcomes.map { $0! }
        var rewards = scored.map(\.reward)
        var flipped = 0
        if rewardNoise > 0 {
            for j in rewards.indices {
                var rng = Philox(seed: noiseSeed, stream: UInt64(j))
                guard Double(rng.uniform()) < rewardNoise else { continue }
                // the grader's verdict flips; the format component stays what it was
                let o = scored[j]
                rewards[j] = (o.grade.correct ? reward.incorrectReward : reward.correctReward) + (o.formatted ? reward.formatReward : 0)
                flipped += 1
            }
        }
        let advantages = GroupAdvantages(epsilon: advantageEpsilon, scale: scaleRewards).compute(rewards: rewards, groupSize: r.groupSize)
        let id = try Self.storeScores(in: store, responses: responses, groupSize: r.groupSize, rewards: rewards, advantages: advantages,
                                      correct: scored.map(\.grade.correct), extracted: scored.map { $0.grade.extracted ?? "" })

        let n = Double(r.count)
        let groups = GroupAdvantages.groupStatistics(rewards: scored.map { $0.grade.correct ? 1 : 0 }, groupSize: r.groupSize)
        let lengths = r.tokens.map(\.count)
        return StageResult(outputs: ["scores": .string(id.hex)], metrics: [
            "responses": .int(r.count), "groups": .int(r.count / r.groupSize),
            "reward_mean": .double(rewards.reduce(0, +) / n),
            "accuracy": .double(Double(scored.filter(\.grade.correct).count) / n),
            "answered": .double(Double(scored.filter { $0.grade.extracted != nil }.count) / n),
            "boxed": .double(Double(scored.filter(\.formatted).count) / n),
            "groups_all_correct": .int(groups.solvedAll), "groups_none_correct": .int(groups.solvedNone), "groups_mixed": .int(groups.mixed),
            "response_tokens_mean": .double(Double(lengths.reduce(0, +)) / n), "response_tokens_max": .int(lengths.max() ?? 0),
            "truncated": .double(Double(r.finished.filter { !$0 }.count) / n),
        ].merging(rewardNoise > 0 ? ["rewards_flipped": .double(Double(flipped) / n)] : [:]) { a, _ in a })
    }

    /// Stores a scores set (what this stage writes; benchmarks write synthetic rewards the same way).
    public static func storeScores(in store: Store, responses: ObjectID, groupSize: Int, rewards: [Double], advantages: [Double],
                                   correct: [Bool], extracted: [String]) throws -> ObjectID {
        let (bytes, offsets) = raggedUTF8(extracted)
        let entries = [
            try store.putTensor(name: "rewards", Tensor(values: rewards.map(Float.init), dtype: .f32)),
            try store.putTensor(name: "advantages", Tensor(values: advantages.map(Float.init), dtype: .f32)),
            try store.putTensor(name: "correct", Tensor(values: correct.map { $0 ? UInt8(1) : 0 }, dtype: .u8)),
            try store.putTensor(name: "extracted", Tensor(values: bytes, dtype: .u8)),
            try store.putTensor(name: "extracted_offsets", Tensor(values: offsets, dtype: .i64)),
        ]
        return try store.putTensorSet(entries, metadata: ["format": "bridge-scores", "responses": .string(responses.hex), "group_size": .int(groupSize)])
    }

    /// The scores a score stage wrote.
    public static func loadScores(from store: Store, id: ObjectID) throws -> Scores {
        let set = try store.tensorSet(id)
        guard set.metadata["format"]?.stringValue == "bridge-scores" else { throw PipelineError.invalidInput("object \(id) is not a scores set") }
        let correct: [UInt8] = try store.requiredColumn(set, "correct", .u8)
        return Scores(rewards: try store.requiredColumn(set, "rewards", .f32), advantages: try store.requiredColumn(set, "advantages", .f32),
                      correct: correct.map { $0 != 0 },
                      extracted: try store.stringColumn(set, "extracted", offsets: "extracted_offsets", count: correct.count),
                      responses: set.metadata["responses"]?.stringValue.flatMap(ObjectID.init(hex:)))
    }

    /// What a score stage wrote, per response.
    public struct Scores: Sendable {
        public var rewards: [Float]
        public var advantages: [Float]
        public var correct: [Bool]
        /// The extracted final answers ("" where none was found).
        public var extracted: [String]
        /// The responses these scores grade.
        public var responses: ObjectID?
    }
}
