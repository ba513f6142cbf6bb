// Every fast kernel against its naive reference, on awkward sizes (not multiples of 16).

import Testing
import Tensors
import TestSupport

@Suite struct KernelReferenceTests {
    @Test(arguments: [(1, 1, 1), (5, 7, 3), (17, 33, 19), (64, 48, 40)])
    func linearForwardAndBackward(n: Int, i: Int, o: Int) {
        let x = randomBuffer(n * i, seed: 1), w = randomBuffer(o * i, seed: 2), b = randomBuffer(o, seed: 3)
        let fast = FloatBuffer(count: n * o), slow = FloatBuffer(count: n * o)
        Linear.forward(out: fast.pointer, inp: x.readPointer, weight: w.readPointer, bias: b.readPointer, n: n, inFeatures: i, outFeatures: o)
        Linear.forwardNaive(out: slow.pointer, inp: x.readPointer, weight: w.readPointer, bias: b.readPointer, n: n, inFeatures: i, outFeatures: o)
        expectClose(fast.array, slow.array, rtol: 1e-5, atol: 1e-5)

        let dout = randomBuffer(n * o, seed: 4)
        let g1 = (FloatBuffer(count: n * i), FloatBuffer(count: o * i), FloatBuffer(count: o))
        let g2 = (randomBuffer(n * i, seed: 5), randomBuffer(o * i, seed: 6), randomBuffer(o, seed: 7))
        g1.0.copy(from: g2.0); g1.1.copy(from: g2.1); g1.2.copy(from: g2.2)   // both accumulate onto the same start
        Linear.backward(dinp: g1.0.pointer, dweight: g1.1.pointer, dbias: g1.2.pointer, dout: dout.readPointer,
                        inp: x.readPointer, weight: w.readPointer, n: n, inFeatures: i, outFeatures: o)
        Linear.backwardNaive(dinp: g2.0.pointer, dweight: g2.1.pointer, dbias: g2.2.pointer, dout: dout.readPointer,
                             inp: x.readPointer, weight: w.readPointer, n: n, inFeatures: i, outFeatures: o)
        for (a, e) in [(g1.0, g2.0), (g1.1, g2.1), (g1.2, g2.2)] {
            expectClose(a.array, e.array, rtol: 1e-4, atol: 1e-4)
        }
    }

    @Test(arguments: [(1, 3), (3, 17), (8, 64)])
    func rmsNorm(n: Int, c: Int) {
        let x = randomBuffer(n * c, seed: 11), w = randomBuffer(c, seed: 12), dout = randomBuffer(n * c, seed: 13)
        let (o1, o2, r1, r2) = (FloatBuffer(count: n * c), FloatBuffer(count: n * c), FloatBuffer(count: n), FloatBuffer(count: n))
        RMSNorm.forward(out: o1.pointer, rstd: r1.pointer, inp: x.readPointer, weight: w.readPointer, n: n, c: c, eps: 1e-6)
        RMSNorm.forwardNaive(out: o2.pointer, rstd: r2.pointer, inp: x.readPointer, weight: w.readPointer, n: n, c: c, eps: 1e-6)
        expectClose(o1.array, o2.array, rtol: 1e-5, atol: 1e-6)
        expectClose(r1.array, r2.array, rtol: 1e-5, atol: 0)
        let (dx1, dx2, dw1, dw2) = (FloatBuffer(count: n * c), FloatBuffer(count: n * c), FloatBuffer(count: c), FloatBuffer(count: c))
        RMSNorm.backward(dinp: dx1.pointer, dweight: dw1.pointer, dout: dout.readPointer, inp: x.readPointer, weight: w.readPointer, rstd: r1.readPointer, n: n, c: c)
        RMSNorm.backwardNaive(dinp: dx2.pointer, dweight: dw2.pointer, dout: dout.readPointer, inp: x.readPointer, weight: w.readPointer, rstd: r1.readPointer, n: n, c: c)
        expectClose(dx1.array, dx2.array, rtol: 1e-5)
        expectClose(dw1.array, dw2.array, rtol: 1e-5)
    }

    @Test func ropeMatchesExplicitRotateHalf() {
        let rows = 6, heads = 3, d = 8
        let scaling = RoPE.Llama3Scaling(factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 16)
        for llama3 in [nil, scaling] {
            let inv = RoPE.inverseFrequencies(headDim: d, theta: 10000, llama3: llama3)
            let (cos, sin) = RoPE.tables(invFreq: inv, positions: 64)
            let positions: [Int32] = [0, 1, 5, 17, 40, 63]
            let x1 = randomBuffer(rows * heads * d, seed: 21), x2 = x1.clone()
            positions.withUnsafeBufferPointer { p in
                RoPE.forward(x1.pointer, positions: p.baseAddress!, cos: cos, sin: sin, rows: rows, heads: heads, headDim: d)
                RoPE.forwardNaive(x2.pointer, positions: p.baseAddress!, invFreq: inv, rows: rows, heads: heads, headDim: d)
            }
            expectClose(x1.array, x2.array, rtol: 1e-4, atol: 1e-5)
            // backward is the inverse rotation: forward then backward is the identity
            let x0 = randomBuffer(rows * heads * d, seed: 21)
            positions.withUnsafeBufferPointer { p in
                RoPE.backward(x1.pointer, positions: p.baseAddress!, cos: cos, sin: sin, rows: rows, heads: heads, headDim: d)
            }
            expectClose(x1.array, x0.array, rtol: 1e-5, atol: 1e-5)
        }
    }

    @Test func llama3ScalingKeepsHighFrequenciesAndDividesLowOnes() {
        let plain = RoPE.inverseFrequencies(headDim: 64, theta: 500000)
        let scaled = RoPE.inverseFrequencies(headDim: 64, theta: 500000,
            llama3: .init(factor: 32, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8192))
        #expect(scaled[0] == plain[0])                 // wavelength 2π < 8192/4: unchanged
        #expect(abs(scaled[31] - plain[31] / 32) <= 1e-12 + 1e-6 * plain[31])  // longest wavelength: ÷ factor
    }

    @Test(arguments: [1, 15, 16, 37])
    func swiglu(n: Int) {
        let g = randomBuffer(n, seed: 31, scale: 3), u = randomBuffer(n, seed: 32), dout = randomBuffer(n, seed: 33)
        let o1 = FloatBuffer(count: n), o2 = FloatBuffer(count: n)
        SwiGLU.forward(out: o1.pointer, gate: g.readPointer, up: u.readPointer, n: n)
        SwiGLU.forwardNaive(out: o2.pointer, gate: g.readPointer, up: u.readPointer, n: n)
        expectClose(o1.array, o2.array, rtol: 1e-5, atol: 1e-6)
        let (a1, a2, b1, b2) = (FloatBuffer(count: n), FloatBuffer(count: n), FloatBuffer(count: n), FloatBuffer(count: n))
        SwiGLU.backward(dgate: a1.pointer, dup: b1.pointer, dout: dout.readPointer, gate: g.readPointer, up: u.readPointer, n: n)
        SwiGLU.backwardNaive(dgate: a2.pointer, dup: b2.pointer, dout: dout.readPointer, gate: g.readPointer, up: u.readPointer, n: n)
        expectClose(a1.array, a2.array, rtol: 1e-5, atol: 1e-6)
        expectClose(b1.array, b2.array, rtol: 1e-5, atol: 1e-6)
    }

    @Test func fastExpIsAccurate() {
        // the exp of softmax, cross-entropy and sigmoid: accurate where they use it, clamped far below
        var worstNonPositive: Float = 0
        var x: Float = -87
        while x <= 1 {
            let e = VectorMath.expNonPositive(x), r = Float(_exp(Double(x)))
            worstNonPositive = max(worstNonPositive, abs(e - r) / r)
            x += 0.0071
        }
        #expect(worstNonPositive < 3e-7)
        #expect(VectorMath.expNonPositive(-200) < 1.2e-38 && VectorMath.expNonPositive(-200) >= 0)
    }

    @Test func fastSqrtIsAccurate() {
        var worst: Float = 0
        for e in stride(from: -30, through: 30, by: 1) {
            for m: Float in [1, 1.1, 1.37, 1.5, 1.99] {
                let x = m * Float(sign: .plus, exponent: e, significand: 1)
                let r = VectorMath.sqrt16(SIMD16<Float>(repeating: x))[0]
                worst = max(worst, abs(r - x.squareRoot()) / x.squareRoot())
            }
        }
        #expect(worst < 2.5e-7)
        #expect(VectorMath.sqrt16(SIMD16<Float>(repeating: 0))[0] == 0)
    }

    @Test(arguments: [(1, 1), (3, 17), (2, 300)])
    func softmax(rows: Int, cols: Int) {
        let x = randomBuffer(rows * cols, seed: 41, scale: 4), dout = randomBuffer(rows * cols, seed: 42)
        let p1 = FloatBuffer(count: rows * cols), p2 = FloatBuffer(count: rows * cols)
        Softmax.forward(out: p1.pointer, inp: x.readPointer, rows: rows, cols: cols)
        Softmax.forwardNaive(out: p2.pointer, inp: x.readPointer, rows: rows, cols: cols)
        expectClose(p1.array, p2.array, rtol: 1e-5, atol: 1e-7)
        let d1 = FloatBuffer(count: rows * cols), d2 = FloatBuffer(count: rows * cols)
        Softmax.backward(dinp: d1.pointer, dout: dout.readPointer, out: p1.readPointer, rows: rows, cols: cols)
        Softmax.backwardNaive(dinp: d2.pointer, dout: dout.readPointer, out: p1.readPointer, rows: rows, cols: cols)
        expectClose(d1.array, d2.array, rtol: 1e-5)
    }

    @Test(arguments: [AttentionShape(batch: 1, time: 1, heads: 1, kvHeads: 1, headDim: 4),
                      AttentionShape(batch: 2, time: 7, heads: 4, kvHeads: 2, headDim: 8),
                      AttentionShape(batch: 1, time: 19, heads: 6, kvHeads: 1, headDim: 5),
                      AttentionShape(batch: 2, time: 150, heads: 4, kvHeads: 2, headDim: 6)])   // 3 query blocks
    func attention(s: AttentionShape) {
        let nq = s.batch * s.time * s.heads * s.headDim, nkv = s.batch * s.time * s.kvHeads * s.headDim
        let q = randomBuffer(nq, seed: 51), k = randomBuffer(nkv, seed: 52), v = randomBuffer(nkv, seed: 53)
        let np = s.batch * s.heads * s.time * s.time
        let (o1, o2, p1, p2) = (FloatBuffer(count: nq), FloatBuffer(count: nq), FloatBuffer(count: np), FloatBuffer(count: np))
        Attention.forward(out: o1.pointer, probs: p1.pointer, q: q.readPointer, k: k.readPointer, v: v.readPointer, shape: s)
        Attention.forwardNaive(out: o2.pointer, probs: p2.pointer, q: q.readPointer, k: k.readPointer, v: v.readPointer, shape: s)
        expectClose(o1.array, o2.array, rtol: 1e-4, atol: 1e-5)
        expectClose(p1.array, p2.array, rtol: 1e-4, atol: 1e-6)
        let dout = randomBuffer(nq, seed: 54)
        let g1 = [FloatBuffer(count: nq), FloatBuffer(count: nkv), FloatBuffer(count: nkv)]
        let g2 = [FloatBuffer(count: nq), FloatBuffer(count: nkv), FloatBuffer(count: nkv)]
        let scratch = FloatBuffer(count: s.time * s.time)
        Attention.backward(dq: g1[0].pointer, dk: g1[1].pointer, dv: g1[2].pointer, dout: dout.readPointer,
                           probs: p1.readPointer, q: q.readPointer, k: k.readPointer, v: v.readPointer, shape: s)
        Attention.backwardNaive(dq: g2[0].pointer, dk: g2[1].pointer, dv: g2[2].pointer, dout: dout.readPointer,
                                probs: p1.readPointer, q: q.readPointer, k: k.readPointer, v: v.readPointer, shape: s)
        for j in 0..<3 {
            expectClose(g1[j].array, g2[j].array, rtol: 1e-5, "grad \(j)")
        }
    }

    @Test func embeddingGatherAndScatter() {
        let vocab = 11, c = 5, ids: [Int32] = [3, 0, 3, 10, 7, 3]
        let table = randomBuffer(vocab * c, seed: 71), dout = randomBuffer(ids.count * c, seed: 72)
        let o1 = FloatBuffer(count: ids.count * c), o2 = FloatBuffer(count: ids.count * c)
        let d1 = FloatBuffer(count: vocab * c), d2 = FloatBuffer(count: vocab * c)
        ids.withUnsafeBufferPointer { p in
            Embedding.forward(out: o1.pointer, ids: p.baseAddress!, table: table.readPointer, n: ids.count, c: c)
            Embedding.forwardNaive(out: o2.pointer, ids: p.baseAddress!, table: table.readPointer, n: ids.count, c: c)
            Embedding.backward(dtable: d1.pointer, dout: dout.readPointer, ids: p.baseAddress!, n: ids.count, c: c)
            Embedding.backwardNaive(dtable: d2.pointer, dout: dout.readPointer, ids: p.baseAddress!, vocab: vocab, n: ids.count, c: c)
        }
        #expect(o1.array == o2.array)
        expectClose(d1.array, d2.array, rtol: 1e-6, atol: 1e-6)
    }

    @Test func crossEntropy() {
        let n = 5, v = 37, targets: [Int32] = [0, 36, -100, 5, 17]
        let logits = randomBuffer(n * v, seed: 81, scale: 3)
        let dl = FloatBuffer([0.2, 0.2, 0.2, 0.5, 1])
        let (l1, l2) = (FloatBuffer(count: n), FloatBuffer(count: n))
        let (d1, d2) = (FloatBuffer(count: n * v), FloatBuffer(count: n * v))
        targets.withUnsafeBufferPointer { t in
            CrossEntropy.forward(losses: l1.pointer, logits: logits.readPointer, targets: t.baseAddress!, n: n, v: v)
            CrossEntropy.forwardNaive(losses: l2.pointer, logits: logits.readPointer, targets: t.baseAddress!, n: n, v: v)
            CrossEntropy.backward(dlogits: d1.pointer, logits: logits.readPointer, targets: t.baseAddress!, losses: l1.readPointer, dlosses: dl.readPointer, n: n, v: v)
            CrossEntropy.backwardNaive(dlogits: d2.pointer, logits: logits.readPointer, targets: t.baseAddress!, dlosses: dl.readPointer, n: n, v: v)
        }
        expectClose(l1.array, l2.array, rtol: 1e-5, atol: 1e-6)
        #expect(l1[2] == 0)
        expectClose(d1.array, d2.array, rtol: 1e-5, atol: 1e-7)
        // in place gives the same numbers
        let inPlace = logits.clone()
        targets.withUnsafeBufferPointer { t in
            CrossEntropy.backward(dlogits: inPlace.pointer, logits: inPlace.readPointer, targets: t.baseAddress!, losses: l1.readPointer, dlosses: dl.readPointer, n: n, v: v)
        }
        #expect(inPlace.array == d1.array)
    }

    @Test func crossEntropyAtATemperature() {
        // per-row inverse temperatures (GRPO's logits/T); a row at s = 1 keeps the unscaled path's bits
        let n = 4, v = 37, targets: [Int32] = [3, 36, -100, 20]
        let logits = randomBuffer(n * v, seed: 82, scale: 3)
        let dl = FloatBuffer([0.3, -0.7, 0.2, 1])
        let scales = FloatBuffer([1 / 0.7, 1, 2, 1 / 1.3])
        let (l1, l2, l3) = (FloatBuffer(count: n), FloatBuffer(count: n), FloatBuffer(count: n))
        let (d1, d2, d3) = (FloatBuffer(count: n * v), FloatBuffer(count: n * v), FloatBuffer(count: n * v))
        targets.withUnsafeBufferPointer { t in
            CrossEntropy.forward(losses: l1.pointer, logits: logits.readPointer, targets: t.baseAddress!, n: n, v: v, scales: scales.readPointer)
            CrossEntropy.forwardNaive(losses: l2.pointer, logits: logits.readPointer, targets: t.baseAddress!, n: n, v: v, scales: scales.readPointer)
            CrossEntropy.forward(losses: l3.pointer, logits: logits.readPointer, targets: t.baseAddress!, n: n, v: v)
            CrossEntropy.backward(dlogits: d1.pointer, logits: logits.readPointer, targets: t.baseAddress!, losses: l1.readPointer,
                                  dlosses: dl.readPointer, n: n, v: v, scales: scales.readPointer)
            CrossEntropy.backwardNaive(dlogits: d2.pointer, logits: logits.readPointer, targets: t.baseAddress!, dlosses: dl.readPointer,
                                       n: n, v: v, scales: scales.readPointer)
            CrossEntropy.backward(dlogits: d3.pointer, logits: logits.readPointer, targets: t.baseAddress!, losses: l3.readPointer,
                                  dlosses: dl.readPointer, n: n, v: v)
        }
        expectClose(l1.array, l2.array, rtol: 1e-5, atol: 1e-6)
        expectClose(d1.array, d2.array, rtol: 1e-5, atol: 1e-7)
        #expect(l1[1] == l3[1] && d1.array(offset: v, count: v) == d3.array(offset: v, count: v), "s = 1 changed the row's bits")
        #expect(l1[0] != l3[0], "the temperature had no effect")
    }

    @Test(arguments: [23, 140_003])   // the second runs the vector blocks on several threads
    func adamW(n: Int) {
        let hyper = AdamWHyper(lr: 1e-2, beta1: 0.9, beta2: 0.95, eps: 1e-8, weightDecay: 0.1)
        let p1 = randomBuffer(n, seed: 91), p2 = p1.clone()
        let (m1, v1, m2, v2) = (FloatBuffer(count: n), FloatBuffer(count: n), FloatBuffer(count: n), FloatBuffer(count: n))
        for t in 1...4 {
            let g = randomBuffer(n, seed: 92 + UInt64(t))
            AdamWKernel.stepNaive(params: p2.pointer, grads: g.readPointer, m: m2.pointer, v: v2.pointer, count: n, hyper: hyper, t: t, gradScale: 0.5)
            AdamWKernel.step(params: p1.pointer, grads: g.pointer, m: m1.pointer, v: v1.pointer, count: n, hyper: hyper, t: t, gradScale: 0.5, clearGrads: t == 4)
            if t == 4 { #expect(g.array.allSatisfy { $0 == 0 }) }
        }
        expectClose(p1.array, p2.array, rtol: 1e-5, atol: 1e-6)
        expectClose(v1.array, v2.array, rtol: 1e-5, atol: 1e-9)
    }
}

import Foundation
func _exp(_ x: Double) -> Double { Foundation.exp(x) }
