// Key/value cache for incremental decoding: post-RoPE keys and values of every layer for B
// sequences. Per (layer, sequence, KV head): keys in transposed blocks of 16 positions
// [S/16, D, 16] and values [S, D], S = the capacity rounded up to 16 (see CachedAttention).
// `length` positions are filled (the sequences of one cache advance in lockstep).

import Tensors

public final class KVCache: @unchecked Sendable {
    public let batch: Int
    public let capacity: Int
    public internal(set) var length = 0
    /// Positions per head row (capacity rounded up to 16).
    let stride: Int
    let keys: FloatBuffer
    let values: FloatBuffer
    let ropeCos: [Float]
    let ropeSin: [Float]
    let config: ModelConfig

    public init(config: ModelConfig, batch: Int, capacity: Int) {
        self.config = config
        self.batch = batch
        self.capacity = capacity
        stride = CachedAttention.stride(capacity: capacity)
        let n = config.numHiddenLayers * batch * config.kvDim * stride
        keys = FloatBuffer(count: n)
        values = FloatBuffer(count: n)
        (ropeCos, ropeSin) = RoPE.tables(invFreq: config.inverseFrequencies, positions: capacity)
    }

    /// Start of the keys (and of the values) of layer l, sequence b.
    func offset(layer l: Int, sequence b: Int) -> Int {
        (l * batch + b) * config.kvDim * stride
    }

    /// Copies positions 0..<length of sequence `u` of `other` (same config and stride) to sequence b.
    func copyPrefix(of u: Int, in other: KVCache, to b: Int, length: Int) {
        precondition(other.stride == stride && length <= capacity)
        let D = config.headDim, keyCount = (length + 15) / 16 * 16 * D, valueCount = length * D
        for l in 0..<config.numHiddenLayers {
            let src = other.offset(layer: l, sequence: u), dst = offset(layer: l, sequence: b)
            for h in 0..<config.numKeyValueHeads {
                // keys: whole blocks of 16 positions, block-major; values: position-major
                let head = h * D * stride
                (keys.pointer + dst + head).update(from: other.keys.readPointer + src + head, count: keyCount)
                (values.pointer + dst + head).update(from: other.values.readPointer + src + head, count: valueCount)
            }
        }
    }

    func advance(by n: Int) {
        precondition(length + n <= capacity)
        length += n
    }

    public func reset() { length = 0 }
}
