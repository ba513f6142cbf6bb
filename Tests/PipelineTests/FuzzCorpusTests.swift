// The fuzz corpora as regression tests: every seed and every saved input (crashes found by
// tools/fuzz.sh, hostile inputs) under Tests/Fuzz/<target>/ goes through the same entry the
// fuzzer drives (FuzzTargets), without instrumentation. Each must parse or be refused with one of
// bridge's input errors naming the file; a trap fails the whole run, as it would fail the CLI.

import Foundation
import FuzzTargets
import Testing

@Suite struct FuzzCorpusTests {
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fuzz")

    static func inputs(_ target: String) -> [(path: String, kind: String)] {
        var out: [(String, String)] = []
        for kind in ["seeds", "regressions"] {
            let dir = root.appendingPathComponent(target).appendingPathComponent(kind)
            let names = (try? FileManager.default.contentsOfDirectory(atPath: dir.path)) ?? []
            for name in names.sorted() where !name.hasPrefix(".") && name != "README.md" {
                out.append((dir.appendingPathComponent(name).path, kind))
            }
        }
        return out
    }

    @Test func everyTargetHasACorpusDirectory() {
        let dirs = Set((try? FileManager.default.contentsOfDirectory(atPath: Self.root.path)) ?? [])
        for t in FuzzTarget.all {
            #expect(dirs.contains(t.name), "Tests/Fuzz/\(t.name)/ is missing")
        }
    }

    @Test(arguments: FuzzTarget.all.map(\.name))
    func corpusParsesOrIsRefused(_ name: String) throws {
        let target = try #require(FuzzTarget.named(name))
        let files = Self.inputs(name)
        #expect(files.contains { $0.kind == "seeds" }, "no seeds for \(name)")
        for (path, kind) in files {
            let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: path)))
            let outcome = target(bytes)
            #expect(outcome.violation == nil, "\(path): \(outcome.violation ?? "")")
            if kind == "seeds" {
                // Seeds are valid files: they must reach the end of the parser.
                #expect(outcome == .accepted, "\(path): seed refused: \(outcome)")
            }
        }
    }
}
