// The llama2.c tokenizer (tok512.bin): SentencePiece-style BPE over a scored vocabulary, encoded as
// llama2.c's run.c `encode` does: optional BOS (1), a dummy-prefix " " token when the text is not
// empty, one token per UTF-8 scalar (byte-fallback tokens <0xNN> at id byte+3 when the scalar is
// not in the vocabulary), then repeatedly merge the adjacent pair whose concatenation is the
// vocabulary entry with the highest score (leftmost on ties), optional EOS (2).
//
// File format (little-endian): int32 max_token_length, then per token: float32 score,
// int32 byte length, the bytes. The vocabulary size is the number of entries in the file.

public final class Llama2CTokenizer: Tokenizer {
    public let name: String
    public let pieces: [[UInt8]]
    public let scores: [Float]
    public let maxTokenLength: Int
    public static let unknownID: Int32 = 0
    public static let bosID: Int32 = 1
    public static let eosID: Int32 = 2
    /// Piece bytes → id (the first id when a piece is listed twice).
    private let ids: ByteKeyTable
    /// (left, right) → id of the piece left+right, for every split of every piece.
    private let pairs: PairTable
    private let spaceID: Int32
    /// The first id with the same piece as each id (run.c merges by piece text, not by id).
    private let canonical: [Int32]

    public var vocabularySize: Int { pieces.count }

    public init(bytes: [UInt8], name: String) throws {
        self.name = name
        func int32(at i: Int) -> Int32 {
            Int32(bitPattern: UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24)
        }
        guard bytes.count >= 4 else { throw TokenizerError.invalidLlama2CFile(file: name, reason: "shorter than its 4-byte header") }
        let maxLength = int32(at: 0)
        guard maxLength > 0 else { throw TokenizerError.invalidLlama2CFile(file: name, reason: "max_token_length \(maxLength) is not positive") }
        maxTokenLength = Int(maxLength)
        var pieces: [[UInt8]] = [], scores: [Float] = []
        var i = 4
        while i < bytes.count {
            guard i + 8 <= bytes.count else {
                throw TokenizerError.invalidLlama2CFile(file: name, reason: "token \(pieces.count) is truncated at byte \(i)")
            }
            let score = Float(bitPattern: UInt32(bitPattern: int32(at: i)))
            let length = Int(int32(at: i + 4))
            guard length >= 0, length <= bytes.count - (i + 8) else {
                throw TokenizerError.invalidLlama2CFile(file: name, reason: "token \(pieces.count) has length \(length), past the end of the file")
            }
            pieces.append(Array(bytes[(i + 8)..<(i + 8 + length)]))
            scores.append(score)
            i += 8 + length
        }
        guard pieces.count > 258 else {
            throw TokenizerError.invalidLlama2CFile(file: name, reason: "\(pieces.count) tokens; expected <unk>, <s>, </s> and 256 byte tokens at least")
        }
        self.pieces = pieces
        self.scores = scores
        var ids = ByteKeyTable(capacity: pieces.count)
        for (id, piece) in pieces.enumerated().reversed() {
            piece.withUnsafeBytes { ids.insert($0, value: UInt64(id)) }
        }
        var pairs = PairTable(capacity: pieces.reduce(0) { $0 + max($1.count - 1, 0) } + 1)
        for (id, piece) in pieces.enumerated().reversed() where piece.count >= 2 {
            for k in 1..<piece.count {
                let left = piece[..<k].withUnsafeBytes { ids.find($0) }
                let right = piece[k...].withUnsafeBytes { ids.find($0) }
                if let left, let right,
                   piece.withUnsafeBytes({ ids.find($0) }) == UInt64(id) {
                    pairs.insert(UInt32(left), UInt32(right), value: UInt64(id))
                }
            }
        }
        self.ids = ids
        self.pairs = pairs
        canonical = pieces.map { piece in Int32(piece.withUnsafeBytes { ids.find($0) }!) }
        guard let space = [UInt8(0x20)].withUnsafeBytes({ ids.find($0) }) else {
            throw TokenizerError.invalidLlama2CFile(file: name, reason: "no \" \" token for the dummy prefix")
        }
        spaceID = Int32(space)
    }

    public func encode(_ text: String, addSpecialTokens: Bool) -> [Int32] {
        encode(text, bos: addSpecialTokens, eos: false)
    }

    /// run.c's encode(text, bos, eos).
    public func encode(_ text: String, bos: Bool, eos: Bool) -> [Int32] {
        var tokens: [Int32] = bos ? [Llama2CTokenizer.bosID] : []
        var text = text
        text.withUTF8 { p in
            if !p.isEmpty { tokens.append(spaceID) }
            var i = 0
            while i < p.count {
                let n = UTF8Text.scalar(p, i).length
                let piece = UnsafeRawBufferPointer(rebasing: UnsafeRawBufferPointer(p)[i..<(i + n)])
                if let id = ids.find(piece) {
                    tokens.append(Int32(id))
                } else {
                    for b in piece { tokens.append(Int32(b) + 3) }
                }
                i += n
            }
        }
        // Merge the best-scoring pair until none is in the vocabulary (BOS included, as run.c does).
        while true {
            var bestScore: Float = -1e10, bestID: Int32 = -1, bestIndex = -1
            var i = 0
            while i + 1 < tokens.count {
                let left = canonical[Int(tokens[i])], right = canonical[Int(tokens[i + 1])]
                if let id = pairs.find(UInt32(left), UInt32(right)), scores[Int(id)] > bestScore {
                    bestScore = scores[Int(id)]
                    bestID = Int32(id)
                    bestIndex = i
                }
                i += 1
            }
            if bestIndex < 0 { break }
            tokens[bestIndex] = bestID
            tokens.remove(at: bestIndex + 1)
        }
        if eos { tokens.append(Llama2CTokenizer.eosID) }
        return tokens
    }

    /// run.c's decode per token: after BOS a leading space is dropped, `<0xNN>` pieces are the byte.
    /// BOS, EOS and <unk> are special (skipped with `skipSpecialTokens`).
    public func decode(_ ids: [Int32], skipSpecialTokens: Bool) -> String {
        var out: [UInt8] = []
        var previous: Int32 = -1
        for id in ids {
            guard id >= 0, Int(id) < pieces.count else { continue }
            defer { previous = id }
            if skipSpecialTokens && isSpecial(id) { continue }
            var piece = pieces[Int(id)][...]
            if previous == Llama2CTokenizer.bosID && piece.first == 0x20 { piece = piece.dropFirst() }
            if let byte = Llama2CTokenizer.byteValue(piece) { out.append(byte) } else { out += piece }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The byte of a `<0xNN>` piece (sscanf "<0x%02hhX>": one or two hex digits after "<0x").
    static func byteValue(_ piece: ArraySlice<UInt8>) -> UInt8? {
        let p = Array(piece)
        guard p.count >= 4, p[0] == UInt8(ascii: "<"), p[1] == UInt8(ascii: "0"), p[2] == UInt8(ascii: "x") else { return nil }
        func hex(_ c: UInt8) -> UInt8? {
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): return c - UInt8(ascii: "A") + 10
            default: return nil
            }
        }
        guard let hi = hex(p[3]) else { return nil }
        if p.count > 4, let lo = hex(p[4]) { return hi << 4 | lo }
        return hi
    }

    public func tokenID(_ token: String) -> Int32? {
        Array(token.utf8).withUnsafeBytes { ids.find($0) }.map { Int32($0) }
    }

    public func token(_ id: Int32) -> String? {
        id >= 0 && Int(id) < pieces.count ? String(decoding: pieces[Int(id)], as: UTF8.self) : nil
    }

    public func isSpecial(_ id: Int32) -> Bool {
        id == Llama2CTokenizer.unknownID || id == Llama2CTokenizer.bosID || id == Llama2CTokenizer.eosID
    }
}
