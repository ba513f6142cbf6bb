// Key/value cache for incremental decoding: post-RoPE keys and values of every layer for B
// sequences that advance in lockstep. Layout [L, B, capacity, Hkv, D]; `length` positions filled.

import Tensors

public final class KVCache: @unchecked Sendable {
    public let batch: Int
    public let capacity: Int
    public private(set) var length = 0
    let keys: FloatBuffer
    let values: FloatBuffer
    let ropeCos: [Float]
    let ropeSin: [Float]
    let config: ModelConfig

    public init(config: ModelConfig, batch: Int, capacity: Int) {
        self.config = config
        self.batch = batch
        self.capacity = capacity
        let n = config.numHiddenLayers * batch * capacity * config.kvDim
        keys = FloatBuffer(count: n)
        values = FloatBuffer(count: n)
        (ropeCos, ropeSin) = RoPE.tables(invFreq: config.inverseFrequencies, positions: capacity)
    }

    /// Start of layer l, sequence b, position p.
    func offset(layer l: Int, batch b: Int, position p: Int) -> Int {
        ((l * batch + b) * capacity + p) * config.kvDim
    }

    func advance(by n: Int) {
        precondition(length + n <= capacity)
        length += n
    }

    public func reset() { length = 0 }
}
