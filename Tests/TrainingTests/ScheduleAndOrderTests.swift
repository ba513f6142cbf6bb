// λ schedules (constant, linear ramp, step list, penalty γ/(1+γ)) with their configuration errors,
// and the seeded data order: every epoch a permutation of the whole set, a function of
// (seed, purpose, epoch) only, so step k's batch does not depend on how the run got there.

import Testing
import Tensors
import Training

@Suite struct ScheduleAndOrderTests {
    @Test func lambdaSchedules() throws {
        #expect(LambdaSchedule.constant(0.5).value(at: 7) == 0.5)
        let ramp = LambdaSchedule.linear(start: 0.2, end: 0.8, steps: 3)
        #expect([0, 1, 2, 3, 10].map { ramp.value(at: $0) }.map { ($0 * 1e9).rounded() / 1e9 } == [0.2, 0.5, 0.8, 0.8, 0.8])
        let steps = LambdaSchedule.steps([.init(from: 0, value: 0.1), .init(from: 5, value: 0.6), .init(from: 9, value: 1)])
        #expect([0, 4, 5, 8, 9, 50].map { steps.value(at: $0) } == [0.1, 0.1, 0.6, 0.6, 1, 1])
        #expect(LambdaSchedule.penalty(gamma: 1).value(at: 0) == 0.5)
        #expect(LambdaSchedule.penalty(gamma: 3).value(at: 0) == 0.75)

        func key(_ s: LambdaSchedule) -> String? {
            do { try s.validate() } catch let TrainingConfigError.invalid(key, _) { return key } catch { return "other" }
            return nil
        }
        #expect(key(.constant(1.2)) == "bridge.lambda.value")
        #expect(key(.constant(-0.1)) == "bridge.lambda.value")
        #expect(key(.linear(start: 0, end: 1.5, steps: 4)) == "bridge.lambda.end")
        #expect(key(.steps([.init(from: 2, value: 0.5)])) == "bridge.lambda.points")
        #expect(key(.steps([.init(from: 0, value: 0.5), .init(from: 0, value: 0.7)])) == "bridge.lambda.points[1].from")
        #expect(key(.penalty(gamma: -1)) == "bridge.lambda.gamma")
        #expect(key(.linear(start: 0, end: 1, steps: 10)) == nil)
    }

    @Test func epochOrderIsAPermutationPerEpochKeyedBySeedAndPurpose() {
        let order = EpochOrder(count: 10, seed: 3, purpose: "sft-order")
        let first = order.items(0..<10), second = order.items(10..<20)
        #expect(first.sorted() == Array(0..<10) && second.sorted() == Array(0..<10))
        #expect(first != second && first != Array(0..<10))
        // a window across the epoch boundary is the same items, whatever range asked for them
        #expect(order.items(7..<13) == Array(first[7...]) + Array(second[..<3]))
        #expect(EpochOrder(count: 10, seed: 3, purpose: "rl-order").items(0..<10) != first)
        #expect(EpochOrder(count: 10, seed: 4, purpose: "sft-order").items(0..<10) != first)
        #expect(EpochOrder(count: 10, seed: 3, purpose: "sft-order", shuffle: false).items(8..<12) == [8, 9, 0, 1])
        #expect(Philox.derive(seed: 1, purpose: "rollout") != Philox.derive(seed: 1, purpose: "shadow-rollout"))
        #expect(Philox.derive(seed: 1, purpose: "rollout", step: 1) != Philox.derive(seed: 1, purpose: "rollout", step: 2))
        #expect(Philox.derive(seed: 1, purpose: "rollout") == Philox.derive(seed: 1, purpose: "rollout"))
    }
}
