// Byte-pair merges by rank on raw bytes (the BPE model of a byte-level tokenizer.json): a word's
// bytes become single-byte tokens, then the adjacent pair with the lowest merge rank is merged
// (leftmost first among equal ranks) until no pair has a merge, exactly the order `tokenizers`
// applies. Three implementations: `mergeNaive` (the reference), `mergeShort` (arrays, short
// words) and `mergeLong` (linked list + min-heap, long words); tests hold the fast two to the first.

struct BPEModel: Sendable {
    /// Id of each single byte (-1 when the vocabulary lacks it).
    var byteIDs: [Int32]
    /// (left, right) → rank << 32 | merged id.
    var merges: PairTable
    /// Raw bytes of every byte-level vocabulary entry → id (ignore_merges looks whole words up here).
    var vocabulary: ByteKeyTable
    /// Llama-3's `ignore_merges`: a word that is itself in the vocabulary is one token.
    var ignoreMerges: Bool
    var unknownID: Int32?
    var fuseUnknown: Bool

    /// Words at most this many symbols long use `mergeShort`.
    static let shortWord = 48

    /// The initial symbols of a word: one token per byte, unknown bytes as `tokenizers` treats them
    /// (dropped without an unk_token; one unk per byte, or one per run with fuse_unk).
    func symbols(of word: UnsafeBufferPointer<UInt8>, into s: inout [UInt32]) {
        s.removeAll(keepingCapacity: true)
        var pendingUnknown = false
        for b in word {
            let id = byteIDs[Int(b)]
            if id >= 0 {
                if pendingUnknown, let unk = unknownID { s.append(UInt32(unk)) }
                pendingUnknown = false
                s.append(UInt32(id))
            } else if let unk = unknownID {
                if pendingUnknown && !fuseUnknown { s.append(UInt32(unk)) }
                pendingUnknown = true
            }
        }
        if pendingUnknown, let unk = unknownID { s.append(UInt32(unk)) }
    }

    @inline(__always)
    func merge(_ s: inout [UInt32]) {
        if s.count <= BPEModel.shortWord { mergeShort(&s) } else { mergeLong(&s) }
    }

    /// The reference: scan all pairs for the lowest (rank, position), merge it, repeat.
    func mergeNaive(_ s: inout [UInt32]) {
        while s.count > 1 {
            var bestRank = UInt64.max, bestPos = -1, bestID: UInt32 = 0
            for i in 0..<(s.count - 1) {
                if let m = merges.find(s[i], s[i + 1]), m >> 32 < bestRank {
                    bestRank = m >> 32
                    bestPos = i
                    bestID = UInt32(truncatingIfNeeded: m)
                }
            }
            if bestPos < 0 { return }
            s[bestPos] = bestID
            s.remove(at: bestPos + 1)
        }
    }

    /// Arrays of symbols and of their pairs' merges; only the two pairs touching a merge are re-looked up.
    func mergeShort(_ s: inout [UInt32]) {
        var n = s.count
        if n < 2 { return }
        withUnsafeTemporaryAllocation(of: UInt64.self, capacity: n - 1) { pair in
            s.withUnsafeMutableBufferPointer { sym in
                for i in 0..<(n - 1) { pair[i] = merges.find(sym[i], sym[i + 1]) ?? UInt64.max }
                while n > 1 {
                    var best = UInt64.max, k = -1
                    for i in 0..<(n - 1) where pair[i] >> 32 < best >> 32 {
                        best = pair[i]
                        k = i
                    }
                    if k < 0 { break }
                    sym[k] = UInt32(truncatingIfNeeded: best)
                    // Drop symbol k+1 and pair k+1 by shifting left.
                    var i = k + 1
                    while i < n - 1 { sym[i] = sym[i + 1]; i += 1 }
                    i = k + 1
                    while i < n - 2 { pair[i] = pair[i + 1]; i += 1 }
                    n -= 1
                    if k > 0 { pair[k - 1] = merges.find(sym[k - 1], sym[k]) ?? UInt64.max }
                    if k < n - 1 { pair[k] = merges.find(sym[k], sym[k + 1]) ?? UInt64.max }
                }
            }
        }
        s.removeLast(s.count - n)
    }

    /// Doubly linked symbols and a min-heap of candidate merges keyed (rank, position), as in
    /// `tokenizers`' Word::merge_all; stale heap entries are skipped when popped.
    func mergeLong(_ s: inout [UInt32]) {
        let n = s.count
        if n < 2 { return }
        var prev = [Int32](repeating: -1, count: n)
        var next = [Int32](repeating: -1, count: n)
        var alive = [Bool](repeating: true, count: n)
        for i in 0..<n {
            prev[i] = Int32(i - 1)
            next[i] = i + 1 < n ? Int32(i + 1) : -1
        }
        var heap = MinHeap()
        for i in 0..<(n - 1) {
            if let m = merges.find(s[i], s[i + 1]) { heap.push((m & 0xFFFF_FFFF_0000_0000) | UInt64(i)) }
        }
        while let top = heap.pop() {
            let pos = Int(top & 0xFFFF_FFFF), rank = top >> 32
            guard alive[pos], next[pos] >= 0 else { continue }
            let right = Int(next[pos])
            guard let m = merges.find(s[pos], s[right]), m >> 32 == rank else { continue }
            s[pos] = UInt32(truncatingIfNeeded: m)
            alive[right] = false
            next[pos] = next[right]
            if next[right] >= 0 { prev[Int(next[right])] = Int32(pos) }
            if prev[pos] >= 0, let l = merges.find(s[Int(prev[pos])], s[pos]) {
                heap.push((l & 0xFFFF_FFFF_0000_0000) | UInt64(prev[pos]))
            }
            if next[pos] >= 0, let r = merges.find(s[pos], s[Int(next[pos])]) {
                heap.push((r & 0xFFFF_FFFF_0000_0000) | UInt64(pos))
            }
        }
        var out = 0
        for i in 0..<n where alive[i] {
            s[out] = s[i]
            out += 1
        }
        s.removeLast(n - out)
    }
}

/// A binary min-heap of UInt64 keys.
struct MinHeap {
    private var a: [UInt64] = []

    mutating func push(_ x: UInt64) {
        a.append(x)
        var i = a.count - 1
        while i > 0 {
            let p = (i - 1) / 2
            if a[p] <= a[i] { break }
            a.swapAt(p, i)
            i = p
        }
    }

    mutating func pop() -> UInt64? {
        guard let last = a.popLast() else { return nil }
        if a.isEmpty { return last }
        let top = a[0]
        a[0] = last
        var i = 0
        while true {
            let l = 2 * i + 1, r = l + 1
            var m = i
            if l < a.count && a[l] < a[m] { m = l }
            if r < a.count && a[r] < a[m] { m = r }
            if m == i { break }
            a.swapAt(i, m)
            i = m
        }
        return top
    }
}

/// Per-encoder memo of word → ids (words under 256 bytes, as `tokenizers` caches), cleared when full.
struct WordCache: Sendable {
    private var table = ByteKeyTable(capacity: 1 << 12)
    private var ids: [UInt32] = []
    static let maxWords = 1 << 17
    static let maxWordBytes = 256

    func lookup(_ word: UnsafeRawBufferPointer, hash: UInt64, into out: inout [Int32]) -> Bool {
        guard let v = table.find(word, hash: hash) else { return false }
        let offset = Int(v >> 16), count = Int(v & 0xFFFF)
        ids.withUnsafeBufferPointer { ids in
            for i in offset..<(offset + count) { out.append(Int32(bitPattern: ids[i])) }
        }
        return true
    }

    mutating func insert(_ word: UnsafeRawBufferPointer, hash: UInt64, ids new: [UInt32]) {
        if table.count >= WordCache.maxWords {
            table.removeAll()
            ids.removeAll(keepingCapacity: true)
        }
        let offset = ids.count
        ids.append(contentsOf: new)
        table.insert(word, hash: hash, value: UInt64(offset) << 16 | UInt64(new.count))
    }
}
