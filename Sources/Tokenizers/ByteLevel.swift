// GPT-2's byte-to-unicode map, as the ByteLevel pre-tokenizer and decoder use it: printable bytes
// ('!'...'~', '¡'...'¬', '®'...'ÿ') map to themselves, the other 68 bytes to U+0100 upward in order.
// bridge runs BPE on raw bytes, so the map is applied once, to the vocabulary, when loading.

enum ByteLevel {
    /// The scalar each byte is written as in a byte-level vocabulary.
    static let byteToScalar: [UInt32] = {
        var table = [UInt32](repeating: 0, count: 256)
        var next: UInt32 = 256
        for b in 0..<256 {
            let printable = (0x21...0x7E).contains(b) || (0xA1...0xAC).contains(b) || (0xAE...0xFF).contains(b)
            if printable {
                table[b] = UInt32(b)
            } else {
                table[b] = next
                next += 1
            }
        }
        return table
    }()

    /// The inverse map over scalars 0..<324 (-1 for scalars outside the alphabet).
    static let scalarToByte: [Int16] = {
        var table = [Int16](repeating: -1, count: 324)
        for (b, s) in byteToScalar.enumerated() { table[Int(s)] = Int16(b) }
        return table
    }()

    /// The raw bytes a byte-level token string stands for, or nil when a character is outside the alphabet.
    static func bytes(ofToken token: String) -> [UInt8]? {
        var out: [UInt8] = []
        out.reserveCapacity(token.unicodeScalars.count)
        for s in token.unicodeScalars {
            guard s.value < 324 else { return nil }
            let b = scalarToByte[Int(s.value)]
            guard b >= 0 else { return nil }
            out.append(UInt8(b))
        }
        return out
    }

    /// What the ByteLevel decoder turns one token into: its mapped bytes, or its own UTF-8 when it
    /// has a character outside the alphabet (as `tokenizers` does for such tokens).
    static func decodedBytes(ofToken token: String) -> [UInt8] {
        bytes(ofToken: token) ?? Array(token.utf8)
    }

    /// The byte-level string of raw bytes (the form tokenizer.json vocabularies use).
    static func tokenString(ofBytes bytes: some Sequence<UInt8>) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(Unicode.Scalar(byteToScalar[Int(b)])!) }
        return String(s)
    }
}
