// Thread-count independence of the parallel machinery and of the kernels that split work:
// workers claim items in order, ordered sections add in item order, spinning helpers run every
// chunk, and the skinny product and RMSNorm backward give the same bits for any split
// (`expectRowsIndependent`, also used for the packed product).

import Foundation
import Testing
import Tensors
import TestSupport

@Suite struct ParallelTests {
    @Test(arguments: [1, 2, 3])
    func orderedSectionsAddInItemOrder(threads: Int) {
        // 9 items each add their own values into one shared sum, inside ordered sections: the
        // float sum (not associative) must come out as the sequential one, whatever the threads.
        let values: [[Float]] = (0..<9).map { (i: Int) -> [Float] in
            (0..<4).map { (k: Int) -> Float in Float(1 + i * 7 + k) * 1e-3 + Float(i) * 1e4 }
        }
        var sequential: [Float] = [0, 0, 0, 0]
        for v in values { for k in 0..<4 { sequential[k] += v[k] } }
        let order = OrderedSections()
        order.reset(sections: 4)
        let shared = FloatBuffer(count: 4)
        let log = Locked<[Int]>([])
        parallelWorkers(values.count, threads: threads) { item in
            var cursor = 0
            for k in 0..<4 {
                order.run(&cursor, item: item) {
                    shared[k] += values[item][k]
                    if k == 0 { log.withLock { $0.append(item) } }
                }
            }
        }
        #expect(shared.array == sequential)
        #expect(log.withLock { $0 } == Array(0..<9))
    }

    @Test(arguments: [(0, 4), (1, 8), (5, 8), (40, 8), (40, 1)])
    func blockingWorkRunsEveryItemOnceAndRethrowsTheLowestFailure(count: Int, threads: Int) throws {
        struct Failure: Error, Equatable { let item: Int }
        let runs = Locked([Int](repeating: 0, count: count))
        let threadsSeen = Locked(Set<UInt>())
        try parallelForBlocking(count, threads: threads) { i in
            usleep(2000)   // waits as a disk write does: the items overlap on more threads than cores
            runs.withLock { $0[i] += 1 }
            threadsSeen.withLock { _ = $0.insert(UInt(pthread_self())) }   // pthread_t is an integer on Linux
        }
        #expect(runs.withLock { $0 } == [Int](repeating: 1, count: count))
        #expect(threadsSeen.withLock { $0.count } <= max(1, min(threads, count)))
        if count >= 5 && threads > 2 { #expect(threadsSeen.withLock { $0.count } > 2, "more threads than cores for blocking work") }
        guard count > 0 else { return }
        let failing: Set<Int> = [count - 1, count / 2, count / 3]
        #expect(throws: Failure(item: failing.min()!)) {
            try parallelForBlocking(count, threads: threads) { i in if failing.contains(i) { throw Failure(item: i) } }
        }
    }

    @Test func hotThreadsRunEveryChunk() {
        let n = 10_000
        let out = FloatBuffer(count: n)
        HotThreads.run(threads: 2) {
            for round in 1...50 {
                parallelChunks(n, minChunk: 16) { range in
                    for i in range { out[i] = Float(round) + Float(i) }
                }
            }
            // a nested region runs without helpers, and still runs everything
            HotThreads.run(threads: 2) {
                parallelChunks(n, minChunk: 16) { range in for i in range { out[i] += 1 } }
            }
        }
        #expect((0..<n).allSatisfy { out[$0] == 51 + Float($0) })
    }

    @Test(arguments: [(1, 37, 70), (3, 256, 129), (6, 64, 200), (9, 33, 67), (16, 40, 130)])
    func skinnyRowsDoNotDependOnTheirCompanyOrTheSplit(n: Int, k: Int, o: Int) {
        let x = randomBuffer(n * k, seed: 1), w = randomBuffer(o * k, seed: 2), b = randomBuffer(o, seed: 3)
        let all = expectRowsIndependent(rows: n, inFeatures: k, outFeatures: o, x: x) { out, inp, rows in
            Linear.forward(out: out, inp: inp, weight: w.readPointer, bias: b.readPointer, n: rows, inFeatures: k, outFeatures: o)
        }
        let slow = FloatBuffer(count: n * o)
        Linear.forwardNaive(out: slow.pointer, inp: x.readPointer, weight: w.readPointer, bias: b.readPointer, n: n, inFeatures: k, outFeatures: o)
        expectClose(all, slow.array, rtol: 1e-5, atol: 1e-5)
    }

    @Test func rmsNormBackwardDoesNotDependOnTheSplit() {
        let n = 300, c = 256   // 5 blocks of 64 rows, wide enough to be split
        let x = randomBuffer(n * c, seed: 11), w = randomBuffer(c, seed: 12), dout = randomBuffer(n * c, seed: 13)
        let rstd = FloatBuffer(count: n), y = FloatBuffer(count: n * c)
        RMSNorm.forward(out: y.pointer, rstd: rstd.pointer, inp: x.readPointer, weight: w.readPointer, n: n, c: c, eps: 1e-6)
        func grads(_ threads: Int) -> ([Float], [Float]) {
            let dx = FloatBuffer(count: n * c), dw = FloatBuffer(count: c)
            KernelThreads.limit(to: threads) {
                RMSNorm.backward(dinp: dx.pointer, dweight: dw.pointer, dout: dout.readPointer, inp: x.readPointer,
                                 weight: w.readPointer, rstd: rstd.readPointer, n: n, c: c)
            }
            return (dx.array, dw.array)
        }
        let one = grads(1)
        for t in [2, 3] {
            let other = grads(t)
            #expect(other.0 == one.0 && other.1 == one.1, "\(t) threads")
        }
    }
}

/// Runs `product` (out [rows, o] from inp [rows, k]) over all rows on 1 thread, then checks the
/// same bits come out on 2 threads, on 2 and 3 spinning helpers, for every row alone, and for
/// rows 1..<6 (a 4-row tile and a leftover row) when there are enough; returns the 1-thread result.
func expectRowsIndependent(rows n: Int, inFeatures k: Int, outFeatures o: Int, x: FloatBuffer,
                           _ product: (UnsafeMutablePointer<Float>, UnsafePointer<Float>, Int) -> Void,
                           sourceLocation: SourceLocation = #_sourceLocation) -> [Float] {
    func run(_ rows: Range<Int>, threads: Int, hot: Bool = false) -> [Float] {
        let out = FloatBuffer(count: rows.count * o)
        KernelThreads.limit(to: threads) {
            let inp = x.readPointer + rows.lowerBound * k
            if hot { HotThreads.run(threads: threads) { product(out.pointer, inp, rows.count) } } else { product(out.pointer, inp, rows.count) }
        }
        return out.array
    }
    let all = run(0..<n, threads: 1)
    #expect(run(0..<n, threads: 2) == all, sourceLocation: sourceLocation)
    #expect(run(0..<n, threads: 2, hot: true) == all, sourceLocation: sourceLocation)
    #expect(run(0..<n, threads: 3, hot: true) == all, sourceLocation: sourceLocation)
    for r in 0..<n {
        #expect(run(r..<(r + 1), threads: 1) == Array(all[(r * o)..<((r + 1) * o)]), "row \(r) alone", sourceLocation: sourceLocation)
    }
    if n >= 6 { #expect(run(1..<6, threads: 2) == Array(all[(1 * o)..<(6 * o)]), sourceLocation: sourceLocation) }
    return all
}
