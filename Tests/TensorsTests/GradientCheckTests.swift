// Finite-difference checks of every layer's backward: loss = Σ out ⊙ r for a fixed random r,
// so the analytic gradient is backward(dout = r); compared with central differences.

import Testing
import Tensors
import TestSupport

@Suite struct GradientCheckTests {
    func check(_ analytic: FloatBuffer, _ x: FloatBuffer, rtol: Double = 1e-2, eps: Float = 1e-2,
               _ loss: @escaping () -> Double, _ label: String) {
        let numeric = GradientCheck.numeric(x, eps: eps, loss: loss)
        expectClose(analytic.array, numeric, rtol: rtol, atol: 1e-4, "\(label)")
    }

    @Test func linear() {
        let n = 3, i = 5, o = 4
        let x = randomBuffer(n * i, seed: 1), w = randomBuffer(o * i, seed: 2), b = randomBuffer(o, seed: 3)
        let r = GradientCheck.projection(count: n * o, seed: 4)
        let out = FloatBuffer(count: n * o)
        let loss = { () -> Double in
            Linear.forward(out: out.pointer, inp: x.readPointer, weight: w.readPointer, bias: b.readPointer, n: n, inFeatures: i, outFeatures: o)
            return GradientCheck.project(out, r)
        }
        let (dx, dw, db) = (FloatBuffer(count: n * i), FloatBuffer(count: o * i), FloatBuffer(count: o))
        Linear.backward(dinp: dx.pointer, dweight: dw.pointer, dbias: db.pointer, dout: r.readPointer, inp: x.readPointer,
                        weight: w.readPointer, n: n, inFeatures: i, outFeatures: o)
        check(dx, x, loss, "dinp"); check(dw, w, loss, "dweight"); check(db, b, loss, "dbias")
    }

    @Test func rmsNorm() {
        let n = 3, c = 6
        let x = randomBuffer(n * c, seed: 11), w = randomBuffer(c, seed: 12)
        let r = GradientCheck.projection(count: n * c, seed: 13)
        let out = FloatBuffer(count: n * c), rstd = FloatBuffer(count: n)
        let loss = { () -> Double in
            RMSNorm.forward(out: out.pointer, rstd: rstd.pointer, inp: x.readPointer, weight: w.readPointer, n: n, c: c, eps: 1e-5)
            return GradientCheck.project(out, r)
        }
        _ = loss()
        let dx = FloatBuffer(count: n * c), dw = FloatBuffer(count: c)
        RMSNorm.backward(dinp: dx.pointer, dweight: dw.pointer, dout: r.readPointer, inp: x.readPointer, weight: w.readPointer,
                         rstd: rstd.readPointer, n: n, c: c)
        check(dx, x, eps: 1e-3, loss, "dinp"); check(dw, w, eps: 1e-3, loss, "dweight")
    }

    @Test func rope() {
        let rows = 3, heads = 2, d = 6
        let inv = RoPE.inverseFrequencies(headDim: d, theta: 100,
            llama3: .init(factor: 4, lowFreqFactor: 1, highFreqFactor: 2, originalMaxPositionEmbeddings: 8))
        let (cos, sin) = RoPE.tables(invFreq: inv, positions: 10)
        let positions: [Int32] = [0, 4, 9]
        let x = randomBuffer(rows * heads * d, seed: 21)
        let r = GradientCheck.projection(count: x.count, seed: 22)
        let loss = { () -> Double in
            let y = x.clone()
            positions.withUnsafeBufferPointer { RoPE.forward(y.pointer, positions: $0.baseAddress!, cos: cos, sin: sin, rows: rows, heads: heads, headDim: d) }
            return GradientCheck.project(y, r)
        }
        let dx = r.clone()
        positions.withUnsafeBufferPointer { RoPE.backward(dx.pointer, positions: $0.baseAddress!, cos: cos, sin: sin, rows: rows, heads: heads, headDim: d) }
        check(dx, x, loss, "dx")
    }

    @Test func swiglu() {
        let n = 20
        let g = randomBuffer(n, seed: 31, scale: 2), u = randomBuffer(n, seed: 32)
        let r = GradientCheck.projection(count: n, seed: 33)
        let out = FloatBuffer(count: n)
        let loss = { () -> Double in
            SwiGLU.forward(out: out.pointer, gate: g.readPointer, up: u.readPointer, n: n)
            return GradientCheck.project(out, r)
        }
        let dg = FloatBuffer(count: n), du = FloatBuffer(count: n)
        SwiGLU.backward(dgate: dg.pointer, dup: du.pointer, dout: r.readPointer, gate: g.readPointer, up: u.readPointer, n: n)
        check(dg, g, eps: 1e-3, loss, "dgate"); check(du, u, eps: 1e-3, loss, "dup")
    }

    @Test func softmax() {
        let rows = 2, cols = 7
        let x = randomBuffer(rows * cols, seed: 41)
        let r = GradientCheck.projection(count: rows * cols, seed: 42)
        let out = FloatBuffer(count: rows * cols)
        let loss = { () -> Double in
            Softmax.forward(out: out.pointer, inp: x.readPointer, rows: rows, cols: cols)
            return GradientCheck.project(out, r)
        }
        _ = loss()
        let dx = FloatBuffer(count: rows * cols)
        Softmax.backward(dinp: dx.pointer, dout: r.readPointer, out: out.readPointer, rows: rows, cols: cols)
        check(dx, x, eps: 1e-3, loss, "dx")
    }

    @Test func attention() {
        let s = AttentionShape(batch: 2, time: 4, heads: 4, kvHeads: 2, headDim: 3)
        let nq = 2 * 4 * 4 * 3, nkv = 2 * 4 * 2 * 3
        let q = randomBuffer(nq, seed: 51), k = randomBuffer(nkv, seed: 52), v = randomBuffer(nkv, seed: 53)
        let r = GradientCheck.projection(count: nq, seed: 54)
        let out = FloatBuffer(count: nq), probs = FloatBuffer(count: 2 * 4 * 4 * 4)
        let loss = { () -> Double in
            Attention.forward(out: out.pointer, probs: probs.pointer, q: q.readPointer, k: k.readPointer, v: v.readPointer, shape: s)
            return GradientCheck.project(out, r)
        }
        _ = loss()
        let dq = FloatBuffer(count: nq), dk = FloatBuffer(count: nkv), dv = FloatBuffer(count: nkv), scratch = FloatBuffer(count: 16)
        Attention.backward(dq: dq.pointer, dk: dk.pointer, dv: dv.pointer, dout: r.readPointer,
                           probs: probs.readPointer, q: q.readPointer, k: k.readPointer, v: v.readPointer, shape: s)
        check(dq, q, eps: 1e-3, loss, "dq"); check(dk, k, eps: 1e-3, loss, "dk"); check(dv, v, eps: 1e-3, loss, "dv")
    }

    @Test func embedding() {
        let vocab = 5, c = 3, ids: [Int32] = [1, 4, 1, 0]
        let table = randomBuffer(vocab * c, seed: 61)
        let r = GradientCheck.projection(count: ids.count * c, seed: 62)
        let out = FloatBuffer(count: ids.count * c)
        let loss = { () -> Double in
            ids.withUnsafeBufferPointer { Embedding.forward(out: out.pointer, ids: $0.baseAddress!, table: table.readPointer, n: ids.count, c: c) }
            return GradientCheck.project(out, r)
        }
        let dt = FloatBuffer(count: vocab * c)
        ids.withUnsafeBufferPointer { Embedding.backward(dtable: dt.pointer, dout: r.readPointer, ids: $0.baseAddress!, n: ids.count, c: c) }
        check(dt, table, loss, "dtable")
    }

    @Test func crossEntropy() {
        let n = 3, v = 9, targets: [Int32] = [2, -100, 8]
        let logits = randomBuffer(n * v, seed: 71, scale: 2)
        let weights = FloatBuffer([0.5, 0.5, 0.5])
        let losses = FloatBuffer(count: n)
        let loss = { () -> Double in
            targets.withUnsafeBufferPointer { CrossEntropy.forward(losses: losses.pointer, logits: logits.readPointer, targets: $0.baseAddress!, n: n, v: v) }
            return GradientCheck.project(losses, weights)
        }
        let dl = FloatBuffer(count: n * v)
        _ = loss()
        targets.withUnsafeBufferPointer {
            CrossEntropy.backward(dlogits: dl.pointer, logits: logits.readPointer, targets: $0.baseAddress!, losses: losses.readPointer,
                                  dlosses: weights.readPointer, n: n, v: v)
        }
        check(dl, logits, eps: 1e-3, loss, "dlogits")
    }
}
