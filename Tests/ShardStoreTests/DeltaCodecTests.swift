// The byte-grouped codecs: exact round trips for every dtype (NaN payloads, infinities, negative
// zero), delta chains bounded by the store's depth, corruption of a delta or its base caught by
// read and by verify with both objects named, the decode cache never hiding a change, and gc
// keeping every base a kept delta needs, also while writers add deltas.

import Foundation
import Synchronization
import Testing
import TestSupport
import Tensors
@testable import ShardStore

@Suite struct DeltaCodecTests {
    let scratch = ScratchDirectory("deltas")

    func makeStore(_ name: String = "store", minSaving: Double = 0, maxDepth: Int = 8) throws -> Store {
        var config = StoreConfig()
        config.deltaMinSaving = minSaving
        config.deltaMaxDepth = maxDepth
        return try Store.create(at: scratch.file(name), config: config)
    }

    /// Bit patterns a float codec must keep: NaNs with payloads (quiet and signalling, both
    /// signs), ±infinity, ±0, the smallest subnormal, for an element of `width` bytes (little endian).
    static func specials(width: Int) -> [[UInt8]] {
        func le(_ v: UInt64) -> [UInt8] { (0..<width).map { UInt8(truncatingIfNeeded: v >> (8 * UInt64($0))) } }
        switch width {
        case 8: return [0x7FF8_0000_0000_0001, 0x7FF0_0000_0000_0001, 0xFFF8_0000_DEAD_BEEF, 0x7FF0_0000_0000_0000,
                        0xFFF0_0000_0000_0000, 0x8000_0000_0000_0000, 0, 1].map(le)
        case 4: return [0x7FC0_0001, 0x7F80_0001, 0xFFC1_2345, 0x7F80_0000, 0xFF80_0000, 0x8000_0000, 0, 1].map(le)
        case 2: return [0x7E01, 0x7C01, 0xFE55, 0x7C00, 0xFC00, 0x8000, 0, 1, 0x7FC1, 0x7F81, 0xFF80].map(le)
        default: return [0x7F, 0xFF, 0x80, 0x00, 0x01, 0x79, 0x7C, 0xFE].map(le)
        }
    }

    /// A base tensor and a successor whose low bytes differ, with the special patterns placed so
    /// that the two disagree on them (-0 against +0, one NaN payload against another).
    static func pair(count: Int, width: Int, seed: UInt64) -> (base: [UInt8], next: [UInt8]) {
        var base = pseudoRandomBytes(count * width, seed: seed)
        var next = base
        let noise = pseudoRandomBytes(count, seed: seed &+ 1)
        for i in 0..<count where noise[i] & 3 != 0 { next[i * width] ^= noise[i] }  // low byte (little endian)
        let sp = specials(width: width)
        for i in stride(from: 0, to: count, by: 97) {
            base.replaceSubrange((i * width)..<((i + 1) * width), with: sp[i % sp.count])
            next.replaceSubrange((i * width)..<((i + 1) * width), with: sp[(i / 97 + 1) % sp.count])
        }
        return (base, next)
    }

    @Test(arguments: Array(UInt8(1)...15))
    func everyDtypeRoundTripsExactly(tag: UInt8) throws {
        let store = try makeStore()
        let width = GroupedCodec.width(kind: .tensor, tag: tag)
        // Across the 4 MiB block boundary, and small sizes.
        for count in [1, 7, 1000, (4 << 20) / width + 13] {
            let (base, next) = Self.pair(count: count, width: width, seed: UInt64(count) &* 31 &+ UInt64(tag))
            let b = try store.put(base, kind: .tensor, tag: tag, codec: .raw)
            let s = try base.withUnsafeBytes { try store.put($0, kind: .tensor, tag: tag, codec: .shuffleLZ4) }
            #expect(s.id == b.id)  // same content, same id: stored once, as raw
            let d = try next.withUnsafeBytes { try store.put($0, kind: .tensor, tag: tag, base: b.id) }
            #expect(d.id == ObjectHasher.id(of: next, kind: .tensor, tag: tag))
            #expect(try store.header(d.id).codec == .deltaSub)
            #expect(try store.header(d.id).base == b.id)
            #expect(try store.chainDepth(d.id) == 1)
            Store.clearDecodedCache()
            #expect(try store.read(d.id).array == next)
            #expect(try store.read(d.id).array == next)  // from the cache
            // shuffle-lz4 alone, on content the store does not hold yet
            guard Array(next.reversed()) != next else { continue }
            let lone = try next.withUnsafeBytes { try store.put(Array($0.reversed()), kind: .tensor, tag: tag, codec: .shuffleLZ4) }
            #expect(try store.header(lone.id).codec == .shuffleLZ4)
            Store.clearDecodedCache()
            #expect(try store.read(lone.id).array == Array(next.reversed()))
        }
        #expect(try store.verify().ok)
    }

    /// Writes an object file the way the store does, with a payload made by the caller.
    func plant(_ store: Store, _ logical: [UInt8], tag: UInt8, codec: Codec, payload: [UInt8], base: ObjectID = .zero) throws -> ObjectID {
        let id = ObjectHasher.id(of: logical, kind: .tensor, tag: tag)
        let header = ObjectHeader(codec: codec, kind: .tensor, tag: tag, logicalLength: logical.count, payloadLength: payload.count, id: id, base: base)
        let path = store.objectPath(id)
        try FileManager.default.createDirectory(atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
        try Data(header.encoded() + payload).write(to: URL(fileURLWithPath: path))
        return id
    }

    /// Every layout a reader may meet — the first release's byte planes (delta-xor, shuffle-lz4
    /// with no bit planes) and any number of bit planes with either delta — decodes exactly, for
    /// every width, across a block boundary and with tails that are not whole bit-plane bytes.
    @Test(arguments: [UInt8(2), 3, 4, 7, 14])
    func everyLayoutDecodes(tag: UInt8) throws {
        let width = GroupedCodec.width(kind: .tensor, tag: tag)
        for count in [5, 1003, (4 << 20) / width + 77] {
            let (base, next) = Self.pair(count: count, width: width, seed: UInt64(count) &+ UInt64(tag) &* 7)
            for bitPlanes in 0...width {
                let store = try makeStore("layouts-\(tag)-\(count)-\(bitPlanes)")
                let b = try store.put(base, kind: .tensor, tag: tag, codec: .raw).id
                for codec in [Codec.shuffleLZ4, .deltaXOR, .deltaSub] {
                    let layout = GroupedLayout(width: width, bitPlanes: bitPlanes, op: codec.deltaOp)
                    // the same content under each codec: one id, so each plant replaces the last
                    let payload = try #require(next.withUnsafeBytes { c in base.withUnsafeBytes { bb in
                        GroupedCodec.encode(c, layout: layout, base: codec.isDelta ? bb : nil, depth: codec.isDelta ? 1 : 0) } })
                    let path = store.objectPath(ObjectHasher.id(of: next, kind: .tensor, tag: tag))
                    try? FileManager.default.removeItem(atPath: path)
                    let id = try plant(store, next, tag: tag, codec: codec, payload: payload, base: codec.isDelta ? b : .zero)
                    Store.clearDecodedCache()
                    #expect(try store.read(id).array == next, "\(codec.name), \(bitPlanes) bit planes, \(count) elements")
                    #expect(try store.verify().ok)
                }
            }
        }
    }

    @Test func groupingIsTheNaiveTransposition() {
        // Element counts that are not multiples of a vector's lanes nor of 8 (bit-plane tails),
        // and one with whole 8×8 blocks of bit-plane bytes plus a remainder.
        for elements in [67, 8 * 67, 8 * 8 * 3 + 8 * 5 + 3] {
            let src = pseudoRandomBytes(8 * elements, seed: 3), base = pseudoRandomBytes(8 * elements, seed: 4)
            for width in [1, 2, 3, 4, 8] {
                let s = Array(src.prefix(width * elements)), bs = Array(base.prefix(width * elements))
                let n = elements
                for withBase in [true, false] {
                    for op in [DeltaOp.xor, .sub] where withBase || op == .xor {
                        guard !(op == .sub && width == 3) else { continue }  // no 3-byte dtype
                        for bitPlanes in 0...width {
                            let layout = GroupedLayout(width: width, bitPlanes: bitPlanes, op: op)
                            // naive: each element combined with its base as a little-endian integer, then plane by plane
                            var bytePlanes = [UInt8](repeating: 0, count: s.count)
                            for i in 0..<n {
                                var x: UInt64 = 0, y: UInt64 = 0
                                for k in 0..<width { x |= UInt64(s[i * width + k]) << (8 * k); y |= UInt64(withBase ? bs[i * width + k] : 0) << (8 * k) }
                                let bits = UInt64(8 * width), mask: UInt64 = width == 8 ? ~0 : (1 << bits) - 1
                                var v = x ^ y
                                if op == .sub {
                                    let d = (x &- y) & mask
                                    let negative = (d >> (bits - 1)) & 1 == 1
                                    v = ((d << 1) & mask) ^ (negative ? mask : 0)
                                }
                                for k in 0..<width { bytePlanes[k * n + i] = UInt8(truncatingIfNeeded: v >> (8 * k)) }
                            }
                            var expected = bytePlanes
                            let rows = n / 8
                            for plane in (width - bitPlanes)..<width {
                                for b in 0..<8 {
                                    for c in 0..<rows {
                                        var byte: UInt8 = 0
                                        for j in 0..<8 { byte |= ((bytePlanes[plane * n + 8 * c + j] >> b) & 1) << j }
                                        expected[plane * n + b * rows + c] = byte
                                    }
                                }
                            }
                            var planes = [UInt8](repeating: 0, count: s.count), back = planes
                            s.withUnsafeBytes { sp in bs.withUnsafeBytes { bb in planes.withUnsafeMutableBytes {
                                GroupedCodec.group(sp, layout: layout, base: withBase ? bb : nil, into: $0) } } }
                            #expect(planes == expected, "width \(width), \(op), base \(withBase), \(bitPlanes) bit planes, \(n) elements")
                            planes.withUnsafeMutableBytes { p in bs.withUnsafeBytes { bb in back.withUnsafeMutableBytes {
                                GroupedCodec.ungroup(p, layout: layout, base: withBase ? bb : nil, into: $0) } } }
                            #expect(back == s, "width \(width), \(op), base \(withBase), \(bitPlanes) bit planes, \(n) elements")
                        }
                    }
                }
            }
        }
    }

    @Test func largeTensorsGetShorterChains() throws {
        // delta_max_chain_bytes 12 000: a read of a 4000-byte object decodes at most 3 of them, so
        // its chain is at most 2 deltas long even though delta_max_depth allows 8.
        var config = StoreConfig()
        config.deltaMinSaving = 0
        config.deltaMaxChainBytes = 12_000
        let store = try Store.create(at: scratch.file("bounded"), config: config)
        #expect(try Store(at: store.root).config.deltaMaxChainBytes == 12_000)
        var bytes = pseudoRandomBytes(4000, seed: 9)
        var ids: [ObjectID] = []
        for v in 0..<7 {
            bytes[v * 4] ^= 1
            let r = try bytes.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: ids.last) }
            ids.append(r.id)
            #expect(try store.chainDepth(r.id) == v % 3, "version \(v)")
        }
        // The default bounds: depth 8, and 1 GiB decoded per read.
        #expect(StoreConfig().deltaMaxDepth == 8 && StoreConfig().deltaMaxChainBytes == 1 << 30)
    }

    @Test func chainsAreBoundedAndReanchor() throws {
        let store = try makeStore(maxDepth: 3)
        var versions: [[UInt8]] = [pseudoRandomBytes(4000, seed: 1)]
        for v in 1...8 { versions.append(Self.pair(count: 1000, width: 4, seed: UInt64(v)).next.enumerated().map { versions[v - 1][$0.offset] ^ ($0.offset % 4 == 0 ? $0.element & 1 : 0) }) }
        var ids: [ObjectID] = []
        for (v, bytes) in versions.enumerated() {
            let r = try bytes.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: ids.last) }
            ids.append(r.id)
            #expect(try store.chainDepth(r.id) == v % 4, "version \(v)")
            // A full copy re-anchors the chain; on noise anchor_compression saves nothing, so raw.
            #expect(try store.header(r.id).codec == (v % 4 == 0 ? .raw : .deltaSub), "version \(v)")
        }
        Store.clearDecodedCache()
        for (id, bytes) in zip(ids, versions).reversed() { #expect(try store.read(id).array == bytes) }
    }

    /// Gaussian fp32 weights x₀ ~ N(0, 0.02²) and steps xₖ = xₖ₋₁ + N(0, (2e-5)²).
    static func trajectory(count: Int, steps: Int) -> [[Float]] {
        var rng = Philox(seed: 0x2545_F491_4F6C_DD1D)
        var x = (0..<count).map { _ in rng.normal() * 0.02 }
        var out = [x]
        for _ in 0..<steps { for i in x.indices { x[i] += rng.normal() * 2e-5 }; out.append(x) }
        return out
    }

    @Test func anchorsOfFloatWeightsAreCompressedAndDeltasBeatXOR() throws {
        // Chains of one delta: step 0 (no hint) raw, 1 a delta, 2 an anchor, 3 a delta, ...
        let steps = Self.trajectory(count: 20_000, steps: 4)
        for anchor in [CodecPolicy.shuffleLZ4, .raw] {
            var config = StoreConfig()
            config.deltaMaxDepth = 1
            config.anchorCompression = anchor
            let store = try Store.create(at: scratch.file("anchors-\(anchor.rawValue)"), config: config)
            #expect(try Store(at: store.root).config.anchorCompression == anchor)
            var ids: [ObjectID] = []
            for (k, x) in steps.enumerated() {
                let r = try x.withUnsafeBytes { try store.put($0, kind: .tensor, tag: DType.f32.code, base: ids.last) }
                ids.append(r.id)
                let expected: Codec = k == 0 ? .raw : k % 2 == 1 ? .deltaSub : anchor == .raw ? .raw : .shuffleLZ4
                #expect(try store.header(r.id).codec == expected, "step \(k), anchors \(anchor.rawValue)")
                if expected == .shuffleLZ4 { #expect(Double(try store.header(r.id).payloadLength) < 0.92 * Double(x.count * 4)) }
            }
            Store.clearDecodedCache()
            for (id, x) in zip(ids, steps) { #expect(try store.read(id).array == x.withUnsafeBytes { Array($0) }) }
        }
        // With deltas off a hinted write is a plain full copy: raw, mapped in place.
        var off = StoreConfig()
        off.deltaMaxDepth = 0
        let plain = try Store.create(at: scratch.file("anchors-off"), config: off)
        let first = try steps[0].withUnsafeBytes { try plain.put($0, kind: .tensor, tag: DType.f32.code) }
        let second = try steps[1].withUnsafeBytes { try plain.put($0, kind: .tensor, tag: DType.f32.code, base: first.id) }
        #expect(try plain.header(second.id).codec == .raw)
        // anchor_compression takes raw or shuffle-lz4 only; anything else is refused by name.
        let bad = try Store.create(at: scratch.file("anchors-bad"))
        try #"{"format": "bridge-store", "version": 1, "anchor_compression": "lz4"}"#.write(toFile: bad.root + "/config.json", atomically: false, encoding: .utf8)
        #expect { _ = try Store(at: bad.root) } throws: { "\($0)".contains("anchor_compression") }

        // The integer difference with bit planes is smaller than the XOR with byte planes (the
        // first release's delta) on the same step.
        let (a, b) = (steps[0], steps[1])
        let sizes = [GroupedLayout(width: 4, bitPlanes: 0, op: .xor), GroupedCodec.writerLayout(width: 4, delta: true)].map { layout in
            b.withUnsafeBytes { x in a.withUnsafeBytes { base in GroupedCodec.encode(x, layout: layout, base: base, depth: 1)!.count } }
        }
        #expect(sizes[1] < sizes[0], "delta-sub \(sizes[1]) bytes, delta-xor \(sizes[0])")
    }

    @Test func deltasThatDoNotSaveEnoughAreNotKept() throws {
        let store = try makeStore(minSaving: 0.2)
        let base = try store.put(pseudoRandomBytes(40_000, seed: 1), kind: .tensor, tag: 2).id
        let unrelated = pseudoRandomBytes(40_000, seed: 2)
        let r = try unrelated.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: base) }
        #expect(try store.header(r.id).codec == .raw)
        // A base of another dtype or length is no base.
        let near = Self.pair(count: 10_000, width: 4, seed: 5)
        let b2 = try store.put(near.base, kind: .tensor, tag: 8).id
        let r2 = try near.next.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: b2) }
        #expect(try store.header(r2.id).codec == .raw)
        let r3 = try near.next.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: ObjectHasher.id(of: [1], kind: .blob)) }
        #expect(try store.header(r3.id).codec == .raw)
    }

    func flip(_ path: String, at offset: Int) throws {
        chmod(path, 0o644)
        var data = try #require(FileManager.default.contents(atPath: path))
        data[offset] ^= 0x5A
        try data.write(to: URL(fileURLWithPath: path))
        chmod(path, 0o444)
    }

    func errorText(_ body: () throws -> Void) -> String? {
        do { try body(); return nil } catch { return "\(error)" }
    }

    @Test func aCorruptBaseIsCaughtAndNamedWithItsDelta() throws {
        let store = try makeStore()
        let (a, b) = Self.pair(count: 5000, width: 4, seed: 9)
        let base = try store.put(a, kind: .tensor, tag: 2).id
        let delta = try b.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: base) }.id
        try store.updateRef(RefName("models/x"), to: delta)
        _ = try store.read(delta)  // now cached
        try flip(store.objectPath(base), at: 64 + 1234)
        let text = try #require(errorText { _ = try store.read(delta) })
        #expect(text.contains(delta.hex) && text.contains(base.hex) && text.contains("corrupt"))
        let report = try store.verify()
        #expect(Set(report.corrupt.map(\.id)) == [base, delta])
        #expect(report.corrupt.first { $0.id == delta }!.reason.contains(base.hex))
        #expect(report.corrupt.first { $0.id == base }!.neededBy.contains { $0.contains("delta base of") })
        try flip(store.objectPath(base), at: 64 + 1234)
        #expect(try store.verify().ok)
        // A missing base: read and verify name it; gc does not pretend.
        chmod(store.objectPath(base), 0o644)
        try FileManager.default.removeItem(atPath: store.objectPath(base))
        let missing = try #require(errorText { _ = try store.read(delta) })
        #expect(missing.contains(base.hex) && missing.contains("missing") && missing.contains(delta.hex))
        let r2 = try store.verify()
        #expect(r2.missing.map(\.id) == [base])
        #expect(r2.corrupt.map(\.id) == [delta])
    }

    @Test func anyFlippedByteOfADeltaIsCaught() throws {
        let store = try makeStore()
        let (a, b) = Self.pair(count: 3000, width: 4, seed: 11)
        let base = try store.put(a, kind: .tensor, tag: 2).id
        let delta = try b.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: base) }.id
        let path = store.objectPath(delta)
        let size = try #require(Posix.status(path)).size
        var offsets = Array(0..<72)
        offsets += stride(from: 72, to: size, by: max(1, (size - 72) / 40)).map { $0 }
        offsets.append(size - 1)
        var caught = 0
        for offset in offsets {
            try flip(path, at: offset)
            // Either an error, or (a changed LZ4 match offset inside a run of zeros) the very same
            // content: never other bytes.
            if let back = try? store.read(delta) {
                #expect(back.array == b, "flip at \(offset) read wrong bytes")
                #expect(try store.verify().ok)
            } else {
                caught += 1
                #expect(try store.verify().corrupt.map(\.id) == [delta], "flip at \(offset) not reported")
            }
            try flip(path, at: offset)
            #expect(try store.read(delta).array == b)
        }
        #expect(caught >= offsets.count - 3)
    }

    @Test func aKnownBaseIsNotReadFromTheStore() throws {
        let store = try makeStore()
        let (a, b) = Self.pair(count: 3000, width: 2, seed: 12)
        let base = try store.put(a, kind: .tensor, tag: 4).id
        let delta = try b.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 4, base: base) }.id
        chmod(store.objectPath(base), 0o644)
        try FileManager.default.removeItem(atPath: store.objectPath(base))
        Store.clearDecodedCache()
        #expect(throws: StoreError.self) { _ = try store.read(delta) }
        #expect(try a.withUnsafeBytes { try store.read(delta, knownBase: base, bytes: $0) }.array == b)
        // Wrong bytes for the base: the hash check catches them.
        let wrong = pseudoRandomBytes(a.count, seed: 1)
        #expect(throws: StoreError.self) { _ = try wrong.withUnsafeBytes { try store.read(delta, knownBase: base, bytes: $0) } }
    }

    func age(_ store: Store, _ id: ObjectID, seconds: Double) throws {
        try FileManager.default.setAttributes([.modificationDate: Date(timeIntervalSinceNow: -seconds)], ofItemAtPath: store.objectPath(id))
    }

    @Test func gcKeepsTheBasesOfKeptDeltas() throws {
        let store = try makeStore()
        var ids: [ObjectID] = []
        var prev: [UInt8] = pseudoRandomBytes(8000, seed: 20)
        for v in 0..<4 {
            ids.append(try prev.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: ids.last) }.id)
            prev = Self.pair(count: 2000, width: 4, seed: UInt64(v)).next.enumerated().map { prev[$0.offset] ^ ($0.offset % 4 == 0 ? $0.element & 3 : 0) }
        }
        for id in ids { try age(store, id, seconds: 7200) }
        // Only the chain's end is referenced: gc keeps the whole chain.
        try store.updateRef(RefName("models/end"), to: ids[3])
        var report = try store.gc(dryRun: false, graceSeconds: 0)
        #expect(report.removed.isEmpty)
        #expect(try store.verify().ok)
        // Unreferenced but young: the young delta keeps its old bases.
        _ = try store.deleteRef(RefName("models/end"))
        try age(store, ids[3], seconds: 0)
        report = try store.gc(dryRun: false, graceSeconds: 3600)
        #expect(report.removed.isEmpty && report.keptBases == 3)
        Store.clearDecodedCache()
        _ = try store.read(ids[3])
        // Old and unreferenced: all of it goes.
        try age(store, ids[3], seconds: 7200)
        report = try store.gc(dryRun: false, graceSeconds: 3600)
        #expect(report.removed.count == 4)
    }

    @Test func gcWhileWritersAddDeltasNeverBreaksAChain() throws {
        let store = try makeStore()
        // Old anchors nobody references: the bases writers will use.
        var anchors: [(id: ObjectID, bytes: [UInt8])] = []
        for k in 0..<6 {
            let bytes = Self.pair(count: 20_000, width: 4, seed: UInt64(100 + k)).base
            anchors.append((try store.put(bytes, kind: .tensor, tag: 2).id, bytes))
            try age(store, anchors[k].id, seconds: 7200)
        }
        let stop = Atomic<Bool>(false)
        let gcRuns = Atomic<Int>(0)
        let gcThread = Thread {
            while !stop.load(ordering: .relaxed) {
                _ = try? store.gc(dryRun: false, graceSeconds: 3600)
                gcRuns.add(1, ordering: .relaxed)
            }
        }
        gcThread.start()
        var written: [ObjectID] = []
        for round in 0..<60 {
            let a = anchors[round % anchors.count]
            var next = a.bytes
            for i in stride(from: 0, to: next.count, by: 4) { next[i] ^= UInt8(truncatingIfNeeded: round &+ i / 4) }
            let r = try next.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: a.id) }
            if r.written { #expect(r.base == a.id || r.base == nil) }
            try store.updateRef(RefName("runs/w/steps/\(round)"), to: r.id)
            written.append(r.id)
        }
        while gcRuns.load(ordering: .relaxed) < 3 { usleep(1000) }
        stop.store(true, ordering: .relaxed)
        while !gcThread.isFinished { usleep(1000) }
        _ = try store.gc(dryRun: false, graceSeconds: 0)
        Store.clearDecodedCache()
        let report = try store.verify()
        #expect(report.ok, "\(report.corrupt.map(\.reason)) \(report.missing.map(\.id))")
        for id in written { _ = try store.read(id) }
    }

    @Test func theCacheNeverHidesAChangedFile() throws {
        let store = try makeStore()
        let (a, b) = Self.pair(count: 4000, width: 4, seed: 30)
        let base = try store.put(a, kind: .tensor, tag: 2).id
        let delta = try b.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: base) }.id
        #expect(try store.read(delta).array == b)
        try flip(store.objectPath(delta), at: 64 + 40)
        #expect(throws: StoreError.self) { _ = try store.read(delta) }
    }

    @Test func statsReportEachCodec() throws {
        let store = try makeStore()
        let (a, b) = Self.pair(count: 4000, width: 4, seed: 40)
        let base = try store.put(a, kind: .tensor, tag: 2).id
        _ = try b.withUnsafeBytes { try store.put($0, kind: .tensor, tag: 2, base: base) }
        let s = try store.stats()
        #expect(s.codecUsage["raw"]!.objects == 1 && s.codecUsage["raw"]!.logicalBytes == 16_000)
        let d = s.codecUsage["delta-sub"]!
        #expect(d.objects == 1 && d.logicalBytes == 16_000 && d.diskBytes < 16_000 && d.saving > 0.3)
        #expect(s.diskBytes == s.codecUsage.values.reduce(0) { $0 + $1.diskBytes })
    }

    @Test func configKeysRoundTripAndOldConfigsStillOpen() throws {
        let store = try makeStore(minSaving: 0.5, maxDepth: 2)
        let reopened = try Store(at: store.root)
        #expect(reopened.config.deltaMaxDepth == 2 && reopened.config.deltaMinSaving == 0.5)
        let plain = try Store.create(at: scratch.file("plain"))
        let text = try String(contentsOfFile: plain.root + "/config.json", encoding: .utf8)
        #expect(!text.contains("delta") && !text.contains("float_compression"))
    }
}
