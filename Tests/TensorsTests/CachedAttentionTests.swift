// Attention over the per-head KV cache (inference) against the training kernel and its naive
// reference: a whole prompt, a chunk after a prefix, and one-query decoding, on head dims below,
// at and above the 16-lane vectors and lengths that are not multiples of 16.

import Testing
import Tensors
import TestSupport

@Suite struct CachedAttentionTests {
    @Test(arguments: [AttentionShape(batch: 1, time: 9, heads: 4, kvHeads: 2, headDim: 8),
                      AttentionShape(batch: 1, time: 19, heads: 6, kvHeads: 1, headDim: 5),
                      AttentionShape(batch: 1, time: 37, heads: 4, kvHeads: 2, headDim: 40),
                      AttentionShape(batch: 1, time: 40, heads: 2, kvHeads: 1, headDim: 64),
                      AttentionShape(batch: 1, time: 21, heads: 6, kvHeads: 2, headDim: 83),
                      AttentionShape(batch: 1, time: 140, heads: 4, kvHeads: 2, headDim: 16)])   // 3 query blocks
    func cacheMatchesFullAttention(s: AttentionShape) {
        let T = s.time, H = s.heads, Hkv = s.kvHeads, D = s.headDim
        let nq = T * H * D, nkv = T * Hkv * D
        let q = randomBuffer(nq, seed: 61), k = randomBuffer(nkv, seed: 62), v = randomBuffer(nkv, seed: 63)
        let full = FloatBuffer(count: nq), probs = FloatBuffer(count: H * T * T)
        Attention.forward(out: full.pointer, probs: probs.pointer, q: q.readPointer, k: k.readPointer, v: v.readPointer, shape: s)

        // every position in the cache (capacity above T: the stride has room to spare)
        let S = CachedAttention.stride(capacity: T + 5)
        let keys = FloatBuffer(count: Hkv * D * S), values = FloatBuffer(count: Hkv * D * S)
        for p in 0..<T {
            CachedAttention.store(key: k.readPointer + p * Hkv * D, value: v.readPointer + p * Hkv * D, position: p,
                                  keys: keys.pointer, values: values.pointer, stride: S, kvHeads: Hkv, headDim: D)
        }
        let scratch = FloatBuffer(count: CachedAttention.scratchCount(time: T, stride: S, heads: H, kvHeads: Hkv, headDim: D))
        func run(time: Int, start: Int) -> ([Float], [Float]) {
            let fast = FloatBuffer(count: time * H * D), slow = FloatBuffer(count: time * H * D)
            let qs = q.readPointer + start * H * D
            CachedAttention.forward(out: fast.pointer, q: qs, keys: keys.readPointer, values: values.readPointer, stride: S,
                                    time: time, start: start, heads: H, kvHeads: Hkv, headDim: D, scratch: scratch.pointer)
            CachedAttention.forwardNaive(out: slow.pointer, q: qs, keys: keys.readPointer, values: values.readPointer, stride: S,
                                         time: time, start: start, heads: H, kvHeads: Hkv, headDim: D)
            return (fast.array, slow.array)
        }
        // the whole prompt, the last 3 positions after a prefix, and each position decoded alone
        for (time, start) in [(T, 0), (3, T - 3), (T - 5, 5)] + (0..<T).map { (1, $0) } {
            let (fast, slow) = run(time: time, start: start)
            let expected = full.array(offset: start * H * D, count: time * H * D)
            expectClose(fast, expected, rtol: 1e-5, atol: 1e-6, "T \(time) from \(start)")
            expectClose(slow, expected, rtol: 1e-5, atol: 1e-6, "naive, T \(time) from \(start)")
        }
    }
}
