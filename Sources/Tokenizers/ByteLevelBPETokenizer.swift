// A Hugging Face byte-level BPE tokenizer (tokenizer.json of Qwen2/Qwen2.5/Qwen3, Llama-3, GPT-2).
// encode: added tokens split out of the raw text → NFC (when configured) → normalized added tokens
// → Split regex → ByteLevel (prefix space, GPT-2 regex) → BPE per word (memoized) → template
// tokens. decode: each token's bytes (the byte-to-unicode map undone) joined, invalid UTF-8 → U+FFFD.

import Tensors

public final class ByteLevelBPETokenizer: Tokenizer {
    public let name: String
    public let vocabularySize: Int
    let model: BPEModel
    /// The added tokens of tokenizer.json, in file order.
    public let addedTokens: [AddedToken]
    /// Added tokens with normalized == false, matched in the raw text.
    let rawMatcher: AddedTokenMatcher
    /// Added tokens with normalized == true, matched in the normalized text.
    let normalizedMatcher: AddedTokenMatcher
    let nfc: Bool
    let split: SplitPattern?
    let addPrefixSpace: Bool
    let byteLevelRegex: Bool
    let prefixIDs: [Int32]
    let suffixIDs: [Int32]
    /// Decoded bytes of every id: arena plus offsets (offsets[id] ..< offsets[id + 1]).
    let decodeBytes: [UInt8]
    let decodeOffsets: [Int]
    /// Per id: 0 unassigned, 1 assigned, 2 special (skipped by skipSpecialTokens).
    let idKind: [UInt8]
    let tokenStrings: [String?]
    let tokenIDs: [String: Int32]
    private let caches = Locked<[WordCache]>([])
    /// How many ids below the largest may be unassigned (real files have none or a few hundred).
    public static let maxUnusedIDs = 1 << 16

    public convenience init(json: [UInt8], name: String) throws {
        try self.init(config: try TokenizerJSONConfig(json: json, file: name), name: name)
    }

    init(config c: TokenizerJSONConfig, name: String) throws {
        self.name = name
        // Model vocabulary: raw bytes of each byte-level entry.
        var byteIDs = [Int32](repeating: -1, count: 256)
        var vocabulary = ByteKeyTable(capacity: c.vocabulary.count)
        var strings: [Int32: String] = [:]
        for (token, id) in c.vocabulary {
            strings[id] = token
            if let bytes = ByteLevel.bytes(ofToken: token) {
                bytes.withUnsafeBytes { vocabulary.insert($0, value: UInt64(id)) }
                if bytes.count == 1 { byteIDs[Int(bytes[0])] = id }
            }
        }
        var merges = PairTable(capacity: max(c.merges.count, 1))
        for (rank, (a, b)) in c.merges.enumerated() {
            guard let ia = c.vocabulary[a], let ib = c.vocabulary[b] else {
                throw TokenizerError.invalidValue(file: name, key: "model.merges",
                                                  reason: "entry \(rank) '\(a) \(b)' uses a token that is not in model.vocab")
            }
            guard let merged = c.vocabulary[a + b] else {
                throw TokenizerError.invalidValue(file: name, key: "model.merges",
                                                  reason: "entry \(rank) '\(a) \(b)' makes '\(a + b)', which is not in model.vocab")
            }
            guard merged != ia, merged != ib else {
                throw TokenizerError.invalidValue(file: name, key: "model.merges",
                                                  reason: "entry \(rank) '\(a) \(b)' merges into one of its own parts (a cyclic merge)")
            }
            merges.insert(UInt32(ia), UInt32(ib), value: UInt64(rank) << 32 | UInt64(merged))
        }
        model = BPEModel(byteIDs: byteIDs, merges: merges, vocabulary: vocabulary, ignoreMerges: c.ignoreMerges,
                         unknownID: c.unknownToken.flatMap { c.vocabulary[$0] }, fuseUnknown: c.fuseUnknown)

        // Added tokens override the model's string for their id; normalized ones are matched (and
        // decoded, as `tokenizers` does) in their NFC form.
        nfc = c.nfc
        addedTokens = c.addedTokens
        var raw: [(AddedToken, [UInt8])] = [], normalized: [(AddedToken, [UInt8])] = []
        var specialContents = Set<String>()
        for t in c.addedTokens {
            let form = t.normalized && c.nfc ? NFC.string(t.content) : t.content
            strings[t.id] = form
            if t.normalized { normalized.append((t, Array(form.utf8))) } else { raw.append((t, Array(t.content.utf8))) }
            if t.special { specialContents.insert(t.content) }
        }
        rawMatcher = AddedTokenMatcher(raw)
        normalizedMatcher = AddedTokenMatcher(normalized)
        split = c.split
        addPrefixSpace = c.addPrefixSpace
        byteLevelRegex = c.byteLevelRegex
        prefixIDs = c.prefixIDs
        suffixIDs = c.suffixIDs

        // Per-id tables are as long as the largest id: ids must be (nearly) dense, or a tiny file
        // could ask for gigabytes (and Int32.max + 1 would not even be an Int32).
        let largest = strings.keys.max().map(Int.init) ?? -1
        if largest >= strings.count + ByteLevelBPETokenizer.maxUnusedIDs {
            let key = c.addedTokens.contains { Int($0.id) == largest } ? "added_tokens" : "model.vocab"
            throw TokenizerError.invalidValue(file: name, key: key, reason: "token id \(largest) is far beyond the \(strings.count) ids the file assigns "
                                              + "(at most \(ByteLevelBPETokenizer.maxUnusedIDs) ids below the largest may be unused)")
        }
        let size = largest + 1
        vocabularySize = size
        var arena: [UInt8] = [], offsets = [0], kinds = [UInt8](repeating: 0, count: size)
        var table = [String?](repeating: nil, count: size)
        for id in 0..<size {
            if let s = strings[Int32(id)] {
                arena += ByteLevel.decodedBytes(ofToken: s)
                kinds[id] = specialContents.contains(s) ? 2 : 1
                table[id] = s
            }
            offsets.append(arena.count)
        }
        for ids in [c.prefixIDs, c.suffixIDs] {
            for id in ids where Int(id) >= size || kinds[Int(id)] == 0 {
                throw TokenizerError.invalidValue(file: name, key: "post_processor", reason: "template token id \(id) is not in the vocabulary")
            }
        }
        decodeBytes = arena
        decodeOffsets = offsets
        idKind = kinds
        tokenStrings = table
        var ids: [String: Int32] = c.vocabulary
        for t in c.addedTokens { ids[t.content] = t.id }
        tokenIDs = ids
    }

    // MARK: Tokenizer

    public func tokenID(_ token: String) -> Int32? { tokenIDs[token] }

    public func token(_ id: Int32) -> String? {
        id >= 0 && Int(id) < vocabularySize ? tokenStrings[Int(id)] : nil
    }

    public func isSpecial(_ id: Int32) -> Bool {
        id >= 0 && Int(id) < vocabularySize && idKind[Int(id)] == 2
    }

    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(ids.count * 4)
        decodeBytes.withUnsafeBufferPointer { arena in
            for id in ids {
                guard id >= 0, Int(id) < vocabularySize else { continue }
                let kind = idKind[Int(id)]
                if kind == 0 || (skipSpecialTokens && kind == 2) { continue }
                out.append(contentsOf: arena[decodeOffsets[Int(id)]..<decodeOffsets[Int(id) + 1]])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        var cache = caches.withLock { $0.popLast() } ?? WordCache()
        var out: [Int32] = addSpecialTokens ? prefixIDs : []
        out.reserveCapacity(text.utf8.count / 3 + 8)
        var text = text
        text.withUTF8 { p in encodeRaw(p, into: &out, cache: &cache) }
        if addSpecialTokens { out += suffixIDs }
        caches.withLock { $0.append(cache) }
        return out
    }

    // MARK: pipeline

    private func encodeRaw(_ p: UnsafeBufferPointer<UInt8>, into out: inout [Int32], cache: inout WordCache) {
        var symbols: [UInt32] = []
        rawMatcher.split(p, 0, p.count) { id, a, b in
            if let id {
                out.append(id)
                return
            }
            if nfc && NFC.mayChange(p, a, b) {
                let normalized = NFC.normalize(p, a, b)
                normalized.withUnsafeBufferPointer { q in
                    encodeNormalized(q, 0, q.count, into: &out, cache: &cache, symbols: &symbols)
                }
            } else {
                encodeNormalized(p, a, b, into: &out, cache: &cache, symbols: &symbols)
            }
        }
    }

    private func encodeNormalized(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int, into out: inout [Int32],
                                  cache: inout WordCache, symbols: inout [UInt32]) {
        normalizedMatcher.split(p, a, b) { id, x, y in
            if let id {
                out.append(id)
            } else {
                forEachWord(p, x, y) { word in encodeWord(word, into: &out, cache: &cache, symbols: &symbols) }
            }
        }
    }

    /// The pre-tokenizer: Split (when configured), then ByteLevel's prefix space and regex per piece.
    func forEachWord(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int, _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        if let split {
            split.forEachPiece(p, a, b) { x, y in byteLevelStep(p, x, y, body) }
        } else {
            byteLevelStep(p, a, b, body)
        }
    }

    private func byteLevelStep(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int,
                               _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        if addPrefixSpace && a < b && p[a] != 0x20 {
            var spaced: [UInt8] = [0x20]
            spaced.append(contentsOf: p[a..<b])
            spaced.withUnsafeBufferPointer { q in regexStep(q, 0, q.count, body) }
        } else {
            regexStep(p, a, b, body)
        }
    }

    private func regexStep(_ p: UnsafeBufferPointer<UInt8>, _ a: Int, _ b: Int,
                           _ body: (UnsafeBufferPointer<UInt8>) -> Void) {
        if byteLevelRegex {
            SplitPattern.gpt2.forEachPiece(p, a, b) { x, y in body(UnsafeBufferPointer(rebasing: p[x..<y])) }
        } else if a < b {
            body(UnsafeBufferPointer(rebasing: p[a..<b]))
        }
    }

    /// BPE of one pre-tokenized word, through the vocabulary (ignore_merges) and the word cache.
    @inline(__always)
    private func encodeWord(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32], cache: inout WordCache,
                            symbols: inout [UInt32]) {
        let raw = UnsafeRawBufferPointer(word)
        let hash = hashBytes(raw)
        if model.ignoreMerges, let id = model.vocabulary.find(raw, hash: hash) {
            out.append(Int32(truncatingIfNeeded: id))
            return
        }
        if cache.lookup(raw, hash: hash, into: &out) { return }
        model.symbols(of: word, into: &symbols)
        model.merge(&symbols)
        for s in symbols { out.append(Int32(bitPattern: s)) }
        if word.count < WordCache.maxWordBytes { cache.insert(raw, hash: hash, ids: symbols) }
    }
}
