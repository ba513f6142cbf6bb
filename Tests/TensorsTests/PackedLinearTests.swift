// The packed product of decoding steps against the naive nn.Linear reference, on sizes that are
// not multiples of the panel width or the row tile; and its bits for a row do not depend on the
// rows that come with it or on the thread count.

import Testing
import Tensors
import TestSupport

@Suite struct PackedLinearTests {
    @Test(arguments: [(1, 1, 1), (3, 37, 70), (4, 256, 16), (6, 64, 200), (9, 33, 67), (16, 40, 130)])
    func matchesTheReferenceWithBiasAndAccumulation(n: Int, k: Int, o: Int) {
        let x = randomBuffer(n * k, seed: 21), w = randomBuffer(o * k, seed: 22), b = randomBuffer(o, seed: 23)
        let packed = FloatBuffer(count: PackedLinear.count(inFeatures: k, outFeatures: o))
        PackedLinear.pack(packed.pointer, weight: w.readPointer, inFeatures: k, outFeatures: o)
        let fast = FloatBuffer(count: n * o), slow = FloatBuffer(count: n * o)
        PackedLinear.forward(out: fast.pointer, inp: x.readPointer, packed: packed.readPointer, bias: b.readPointer,
                             n: n, inFeatures: k, outFeatures: o)
        Linear.forwardNaive(out: slow.pointer, inp: x.readPointer, weight: w.readPointer, bias: b.readPointer, n: n, inFeatures: k, outFeatures: o)
        expectClose(fast.array, slow.array, rtol: 1e-5, atol: 1e-5)
        // accumulate adds onto what is there; no bias
        let start = randomBuffer(n * o, seed: 24)
        let acc = FloatBuffer(count: n * o)
        acc.copy(from: start)
        PackedLinear.forward(out: acc.pointer, inp: x.readPointer, packed: packed.readPointer, bias: nil,
                             n: n, inFeatures: k, outFeatures: o, accumulate: true)
        Linear.forwardNaive(out: slow.pointer, inp: x.readPointer, weight: w.readPointer, bias: nil, n: n, inFeatures: k, outFeatures: o)
        let expected = zip(start.array, slow.array).map { $0 + $1 }
        expectClose(acc.array, expected, rtol: 1e-5, atol: 1e-5)
        // the padding of the last panel is zero: the packed matrix holds exactly the weights
        let p = packed.array
        #expect(p.count == (o + 15) / 16 * 16 * k)
        #expect(p.filter { $0 != 0 }.count == w.array.filter { $0 != 0 }.count)
    }

    @Test(arguments: [(7, 64, 100), (16, 48, 260)])
    func rowsDoNotDependOnTheirCompanyOrTheSplit(n: Int, k: Int, o: Int) {
        let x = randomBuffer(n * k, seed: 31), w = randomBuffer(o * k, seed: 32), b = randomBuffer(o, seed: 33)
        let packed = FloatBuffer(count: PackedLinear.count(inFeatures: k, outFeatures: o))
        PackedLinear.pack(packed.pointer, weight: w.readPointer, inFeatures: k, outFeatures: o)
        _ = expectRowsIndependent(rows: n, inFeatures: k, outFeatures: o, x: x) { out, inp, rows in
            PackedLinear.forward(out: out, inp: inp, packed: packed.readPointer, bias: b.readPointer, n: rows, inFeatures: k, outFeatures: o)
        }
    }

    @Test(arguments: [(37, 70, 20, 33, 3), (64, 48, 0, 48, 16), (9, 130, 17, 130, 1)])
    func aLowRankUpdateLandsOnItsRowsAsTheMergedMatrixWould(k: Int, o: Int, first: Int, last: Int, r: Int) {
        // rows first..<last of a packed [o, k] matrix gain scale·B·A; the result equals packing
        // W + scale·B·A computed naively, and every other entry (and the padding) is untouched
        let w = randomBuffer(o * k, seed: 41), a = randomBuffer(r * k, seed: 42), b = randomBuffer((last - first) * r, seed: 43)
        let scale: Float = 0.75
        let packed = FloatBuffer(count: PackedLinear.count(inFeatures: k, outFeatures: o))
        PackedLinear.pack(packed.pointer, weight: w.readPointer, inFeatures: k, outFeatures: o)
        let before = packed.array
        PackedLinear.addLowRank(packed.pointer, rows: first..<last, a: a.readPointer, b: b.readPointer, rank: r, inFeatures: k, scale: scale)
        let merged = FloatBuffer(count: o * k)
        merged.copy(from: w)
        for row in first..<last {
            for i in 0..<k {
                var d: Double = 0
                for j in 0..<r { d += Double(b[(row - first) * r + j]) * Double(a[j * k + i]) }
                merged[row * k + i] += scale * Float(d)
            }
        }
        let expected = FloatBuffer(count: packed.count)
        PackedLinear.pack(expected.pointer, weight: merged.readPointer, inFeatures: k, outFeatures: o)
        expectClose(packed.array, expected.array, rtol: 1e-5, atol: 1e-6)
        for (index, value) in packed.array.enumerated() where !(first..<last).contains((index / (k * 16)) * 16 + index % 16) {
            #expect(value == before[index], "entry \(index) outside rows \(first)..<\(last) changed")
        }
    }
}
