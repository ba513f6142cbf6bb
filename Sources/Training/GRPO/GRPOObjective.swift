// The GRPO loss of ALGORITHM.md ("GRPO, the RL gradient") with TRL's names and aggregation
// (trl 1.16 GRPOTrainer._compute_loss): per completion token t of response i, with log-probs taken
// at the sampling temperature T,
//   ρ_t = exp(logp_t − old_t),  s_t = min(ρ_t·A_i, clip(ρ_t, 1−ε, 1+ε_high)·A_i),
//   k_t = exp(ref_t − logp_t) − (ref_t − logp_t) − 1            (k3; only when β > 0)
//   loss = Σ_t w_t·(−s_t + β·k_t)
// with w_t from `loss_type`: grpo 1/(|o_i|·G_total), bnpo and dapo 1/(tokens of the generation
// batch), dr_grpo 1/(G_total·max_completion_length). Without old log-probs (num_iterations = 1)
// old = logp detached, so ρ ≡ 1.
// Where we depart from TRL: its default `use_bias_correction_kl` multiplies k_t by ρ_t (gradient
// β·(logp − ref) on-policy); we follow ALGORITHM.md's plain k3, whose gradient is β·(1 − e^{ref−logp}),
// i.e. TRL with use_bias_correction_kl=False (the goldens cover both). The backward needs only
// ∂loss/∂logp_t per token: c_t = w_t·[−A·ρ_t·1(unclipped) + β·(1 − e^{ref_t − logp_t})].

import Foundation
import Tensors

public enum GRPOLossType: String, Sendable, CaseIterable, Codable {
    case grpo, bnpo, dapo, drGRPO = "dr_grpo"
}

public struct GRPOConfig: Sendable, Equatable {
    /// KL coefficient (TRL `beta`); 0 turns π_ref off.
    public var beta: Double
    /// Clip range (TRL `epsilon`, and `epsilon_high` when set).
    public var epsilon: Double
    public var epsilonHigh: Double?
    public var lossType: GRPOLossType
    /// Sampling temperature; log-probs on the training side are taken from logits / T.
    public var temperature: Double
    /// dr_grpo's normaliser (TRL `max_completion_length`).
    public var maxCompletionLength: Int

    public init(beta: Double = 0.001, epsilon: Double = 0.2, epsilonHigh: Double? = nil, lossType: GRPOLossType = .dapo,
                temperature: Double = 1, maxCompletionLength: Int) {
        self.beta = beta
        self.epsilon = epsilon
        self.epsilonHigh = epsilonHigh
        self.lossType = lossType
        self.temperature = temperature
        self.maxCompletionLength = maxCompletionLength
    }

    /// Errors name the key as the pipeline file spells it.
    public func validate() throws(TrainingConfigError) {
        guard temperature > 0, temperature.isFinite else { throw .invalid(key: "rl.temperature", "must be > 0, got \(temperature)") }
        guard beta >= 0, beta.isFinite else { throw .invalid(key: "rl.beta", "must be ≥ 0, got \(beta)") }
        guard epsilon > 0, epsilon < 1 else { throw .invalid(key: "rl.epsilon", "must be in (0, 1), got \(epsilon)") }
        if let h = epsilonHigh, !(h > 0) { throw .invalid(key: "rl.epsilon_high", "must be > 0, got \(h)") }
        guard maxCompletionLength > 0 else { throw .invalid(key: "rl.max_completion_length", "must be > 0, got \(maxCompletionLength)") }
    }
}

/// A configuration value outside its domain; `key` is its name in the pipeline file.
public enum TrainingConfigError: Error, Equatable, CustomStringConvertible {
    case invalid(key: String, String)

    public var description: String {
        switch self {
        case let .invalid(key, why): "invalid value for '\(key)': \(why)"
        }
    }
}

/// The loss, ∂loss/∂logp for every completion token, and the step's metrics.
public struct GRPOTerms: Sendable {
    public var loss: Double = 0
    /// Per sequence, per completion token: ∂loss/∂logp_t.
    public var coefficients: [[Float]] = []
    /// Mean k3 KL over completion tokens (0 when β = 0 and no reference was given).
    public var meanKL: Double = 0
    /// Fractions of completion tokens whose ratio was clipped below (A < 0) or above (A > 0).
    public var clipLow: Double = 0
    public var clipHigh: Double = 0
    /// Mean −log p of the completion tokens (at the temperature).
    public var meanNegLogProb: Double = 0
    /// Σ weight·A·log p over the completion tokens (the loss type's aggregation weights): the
    /// policy-gradient surrogate's value up to a constant. Its difference between two policies on
    /// the same samples is a first-order estimate of the difference of their objectives.
    public var advantageLogProb: Double = 0
    public var tokens: Int = 0
}

public enum GRPOObjective {
    /// Aggregation weight of each token of a sequence of `length` tokens.
    /// `batchTokens`: completion tokens of the whole generation batch (dapo/bnpo).
    public static func weight(_ type: GRPOLossType, length: Int, sequences: Int, batchTokens: Int, maxCompletionLength: Int) -> Double {
        switch type {
        case .grpo: 1 / (Double(max(length, 1)) * Double(sequences))
        case .bnpo, .dapo: 1 / Double(max(batchTokens, 1))
        case .drGRPO: 1 / (Double(sequences) * Double(maxCompletionLength))
        }
    }

    /// The terms for `logps[i][t]` (completion tokens of sequence i under the policy being
    /// trained), optional `oldLogps` (nil: ρ ≡ 1) and `refLogps` (needed when β > 0), one
    /// advantage per sequence. `sequences` and `batchTokens` describe the whole generation batch
    /// (default: these sequences), so a batch processed in chunks normalises globally.
    public static func terms(config: GRPOConfig, logps: [[Float]], oldLogps: [[Float]]? = nil, refLogps: [[Float]]? = nil,
                             advantages: [Float], sequences: Int? = nil, batchTokens: Int? = nil) -> GRPOTerms {
        precondition(advantages.count == logps.count, "one advantage per sequence")
        precondition(config.beta == 0 || refLogps != nil, "β > 0 needs reference log-probs")
        let n = sequences ?? logps.count
        let total = batchTokens ?? logps.reduce(0) { $0 + $1.count }
        let low = 1 - config.epsilon, high = 1 + (config.epsilonHigh ?? config.epsilon)
        var out = GRPOTerms()
        var kl = 0.0, negLogP = 0.0, clippedLow = 0, clippedHigh = 0
        out.coefficients = logps.indices.map { i in
            let seq = logps[i], a = Double(advantages[i])
            let w = weight(config.lossType, length: seq.count, sequences: n, batchTokens: total, maxCompletionLength: config.maxCompletionLength)
            return seq.indices.map { t in
                let logp = Double(seq[t])
                let rho = oldLogps.map { exp(logp - Double($0[i][t])) } ?? 1
                let clipped = min(max(rho, low), high)
                let unclipped = rho * a, bounded = clipped * a
                // min picks the clipped branch only where it is smaller, and that branch has no gradient
                // when the ratio is outside the range.
                let clippedWins = bounded < unclipped && (rho < low || rho > high)
                if clippedWins { if rho < low { clippedLow += 1 } else { clippedHigh += 1 } }
                var c = clippedWins ? 0 : -a * rho
                var lossT = -min(unclipped, bounded)
                if let ref = refLogps {
                    let d = Double(ref[i][t]) - logp
                    let k = exp(d) - d - 1
                    kl += k
                    if config.beta > 0 {
                        lossT += config.beta * k
                        c += config.beta * (1 - exp(d))
                    }
                }
                negLogP -= logp
                out.advantageLogProb += w * a * logp
                out.loss += w * lossT
                return Float(w * c)
            }
        }
        out.tokens = logps.reduce(0) { $0 + $1.count }
        let count = Double(max(out.tokens, 1))
        out.meanKL = kl / count
        out.clipLow = Double(clippedLow) / count
        out.clipHigh = Double(clippedHigh) / count
        out.meanNegLogProb = negLogP / count
        return out
    }
}

extension TrainingConfigError: ClassifiedError {
    public var errorClass: ErrorClass { .input }
}
