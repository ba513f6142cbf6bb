// Linear layers packed for decoding: a few rows (one token of each of a few sequences) through
// every weight matrix. The nn.Linear layout [O, I] makes each output a dot product, whose lanes
// must be reduced at the end of every (row, output) pair; here the weights are first copied into
// panels of 16 output features, each panel [I, 16] contiguous, and a product is a sequence of
// broadcast-multiply-adds: out[r, o..<o+16] += x[r, i] · panel[i, 0..<16] for i in order. No
// reduction, one sequential stream per panel, and each output is one fused multiply-add chain over
// i in order, so its bits depend neither on the rows that come with it nor on how panels are split
// over the cores. Packing costs one pass over the weights; `generate` packs once per call.
// O output features, I input features, N rows (≤ Linear.skinnyRows), W = 16 panel width.

/// Weight matrices [O, I] packed into panels of `PackedLinear.width` output features, zero-padded.
public enum PackedLinear {
    public static let width = 16

    /// Floats a packed [O, I] matrix takes: ⌈O/16⌉ panels of I × 16.
    public static func count(inFeatures I: Int, outFeatures O: Int) -> Int { (O + width - 1) / width * width * I }

    /// Packs weight [O, I] (nn.Linear layout) into `packed` (`count(inFeatures:outFeatures:)` floats).
    public static func pack(_ packed: UnsafeMutablePointer<Float>, weight: UnsafePointer<Float>, inFeatures I: Int, outFeatures O: Int) {
        let panels = (O + width - 1) / width
        parallelChunks(panels) { range in
            for p in range {
                let panel = packed + p * I * width, rows = min(width, O - p * width)
                let first = weight + p * width * I
                if rows < width { panel.update(repeating: 0, count: I * width) }
                // written front to back; the panel's rows are read as `rows` sequential streams
                var i = 0
                while i < I {
                    let dst = panel + i * width
                    for j in 0..<rows { dst[j] = first[j * I + i] }
                    i += 1
                }
            }
        }
    }

    /// Adds scale · B·A to output rows `rows` of a packed matrix with I input features: row o gets
    /// scale · Σ_k B[o − rows.lowerBound, k] · A[k, :], the sum taken over k in order (B [rows, r],
    /// A [r, I], PEFT's layout). This folds a LoRA adapter into the weights as `merge` does (W + scale·B·A);
    /// each element is computed the same way whatever the thread count. Works panel by panel in
    /// the packed layout: for each input feature, the 16 rows' sums are one vector FMA per k.
    public static func addLowRank(_ packed: UnsafeMutablePointer<Float>, rows: Range<Int>, a: UnsafePointer<Float>, b: UnsafePointer<Float>,
                                  rank r: Int, inFeatures I: Int, scale: Float) {
        typealias V = SIMD16<Float>
        guard !rows.isEmpty, r > 0 else { return }
        let first = rows.lowerBound / width, last = (rows.upperBound - 1) / width
        parallelChunks(last - first + 1) { chunk in
            // B's columns for the panel's rows, k-major: bt[k] holds B[o, k] for the panel's 16 rows
            // (0 for rows outside `rows`, which are left as they are)
            let bt = UnsafeMutablePointer<V>.allocate(capacity: r)
            defer { bt.deallocate() }
            for p in chunk.lowerBound + first..<chunk.upperBound + first {
                let o0 = p * width
                let lanes = max(rows.lowerBound, o0) - o0..<min(rows.upperBound, o0 + width) - o0
                for k in 0..<r {
                    var column = V()
                    for j in 0..<width where rows.contains(o0 + j) { column[j] = b[(o0 + j - rows.lowerBound) * r + k] }
                    bt[k] = column
                }
                let panel = packed + p * I * width
                @inline(__always) func add(_ acc: V, _ i: Int) {
                    let dst = panel + i * width
                    if lanes.count == width {
                        let raw = UnsafeMutableRawPointer(dst)
                        raw.storeBytes(of: raw.loadUnaligned(as: V.self) + acc * scale, as: V.self)
                    } else {
                        for j in lanes { dst[j] += acc[j] * scale }
                    }
                }
                var i = 0
                while i + 4 <= I {
                    // four input features at a time: independent FMA chains
                    var c0 = V(), c1 = V(), c2 = V(), c3 = V()
                    for k in 0..<r {
                        let column = bt[k], ak = a + k * I + i
                        c0 = c0.addingProduct(V(repeating: ak[0]), column); c1 = c1.addingProduct(V(repeating: ak[1]), column)
                        c2 = c2.addingProduct(V(repeating: ak[2]), column); c3 = c3.addingProduct(V(repeating: ak[3]), column)
                    }
                    add(c0, i); add(c1, i + 1); add(c2, i + 2); add(c3, i + 3)
                    i += 4
                }
                while i < I {
                    var c = V()
                    for k in 0..<r { c = c.addingProduct(V(repeating: a[k * I + i]), bt[k]) }
                    add(c, i)
                    i += 1
                }
            }
        }
    }

    /// out[r, o] (+)= Σ_i inp[r, i]·weight[o, i] (+ bias[o]) for n rows, weight packed by `pack`.
    /// Tiles of 4 rows × 16 outputs (8 vector accumulators, 6 loads per 8 multiply-adds), leftover
    /// rows 1 × 16; panels split over the kernel threads.
    public static func forward(out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, packed: UnsafePointer<Float>,
                               bias: UnsafePointer<Float>?, n: Int, inFeatures I: Int, outFeatures O: Int, accumulate: Bool = false) {
        typealias V = SIMD8<Float>
        let panels = (O + width - 1) / width
        @inline(__always) func load(_ p: UnsafePointer<Float>) -> V { UnsafeRawPointer(p).loadUnaligned(as: V.self) }
        @inline(__always) func finish(_ a: V, _ b: V, _ r: Int, _ p: Int) {
            let o0 = p * width, dst = out + r * O + o0
            let valid = min(width, O - o0)
            if valid == width {
                // the same additions as below, 8 lanes at a time
                var lo = a, hi = b
                if let bias { lo += load(bias + o0); hi += load(bias + o0 + 8) }
                if accumulate { lo = load(dst) + lo; hi = load(dst + 8) + hi }
                UnsafeMutableRawPointer(dst).storeBytes(of: lo, as: V.self)
                UnsafeMutableRawPointer(dst + 8).storeBytes(of: hi, as: V.self)
                return
            }
            for j in 0..<valid {
                let sum = j < 8 ? a[j] : b[j - 8]
                let value = sum + (bias?[o0 + j] ?? 0)
                dst[j] = accumulate ? dst[j] + value : value
            }
        }
        @inline(__always) func tile4(_ r: Int, _ p: Int) {
            var x0 = inp + r * I, x1 = x0 + I, x2 = x1 + I, x3 = x2 + I
            var w = packed + p * I * width
            var a00 = V(), a01 = V(), a10 = V(), a11 = V(), a20 = V(), a21 = V(), a30 = V(), a31 = V()
            for _ in 0..<I {
                prefetch(w + 16 * width)   // a panel row is one cache line
                let u0 = load(w), u1 = load(w + 8)
                let y0 = V(repeating: x0.pointee), y1 = V(repeating: x1.pointee)
                let y2 = V(repeating: x2.pointee), y3 = V(repeating: x3.pointee)
                a00 = a00.addingProduct(y0, u0); a01 = a01.addingProduct(y0, u1)
                a10 = a10.addingProduct(y1, u0); a11 = a11.addingProduct(y1, u1)
                a20 = a20.addingProduct(y2, u0); a21 = a21.addingProduct(y2, u1)
                a30 = a30.addingProduct(y3, u0); a31 = a31.addingProduct(y3, u1)
                w += width; x0 += 1; x1 += 1; x2 += 1; x3 += 1
            }
            finish(a00, a01, r, p); finish(a10, a11, r + 1, p); finish(a20, a21, r + 2, p); finish(a30, a31, r + 3, p)
        }
        @inline(__always) func tile1(_ r: Int, _ p: Int) {
            var x = inp + r * I
            var w = packed + p * I * width
            var a0 = V(), a1 = V()
            for _ in 0..<I {
                let y = V(repeating: x.pointee)
                a0 = a0.addingProduct(y, load(w)); a1 = a1.addingProduct(y, load(w + 8))
                w += width; x += 1
            }
            finish(a0, a1, r, p)
        }
        parallelChunks(panels, minChunk: 2) { range in
            for p in range {
                var r = 0
                while r + 4 <= n { tile4(r, p); r += 4 }
                while r < n { tile1(r, p); r += 1 }
            }
        }
    }
}
