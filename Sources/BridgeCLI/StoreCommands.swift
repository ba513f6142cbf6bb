// `bridge gc` and `bridge store stats`.

import ArgumentParser
import Foundation
import ShardStore

struct GC: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "gc",
        abstract: "Remove unreachable objects older than the grace period, and dead writers' temporary files.")

    @OptionGroup var storeOptions: StoreOptions
    @Flag(name: .long, help: "Report what would be removed; remove nothing.") var dryRun = false
    @Option(name: .long, help: "Grace period in seconds (default: the store's gc_grace_seconds).") var grace: Double?
    @Flag(help: "Print a JSON object.") var json = false

    func run() throws {
        let store = try storeOptions.open()
        let report = try store.gc(dryRun: dryRun, graceSeconds: grace)
        if json {
            printJSON([
                "dry_run": .bool(dryRun),
                "reachable": .int(report.reachable),
                "removed": .array(report.removed.map { .string($0.id.hex) }),
                "removed_bytes": .int(report.removedBytes),
                "kept_young": .int(report.keptYoung),
                "removed_temporary": .array(report.removedTemporary.map { .string($0) }),
                "missing": .array(report.missing.map { .string($0.hex) }),
            ])
            return
        }
        let verb = dryRun ? "would remove" : "removed"
        print("\(report.reachable) reachable objects; \(verb) \(report.removed.count) objects (\(formatBytes(report.removedBytes))), "
              + "kept \(report.keptYoung) younger than the grace period; \(verb) \(report.removedTemporary.count) temporary entries")
        if !report.missing.isEmpty {
            print("warning: \(report.missing.count) reachable objects are missing; run 'bridge ckpt verify'")
        }
    }
}

struct StoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "store", abstract: "Inspect the store itself.", subcommands: [Stats.self])

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Object counts and sizes.")
        @OptionGroup var storeOptions: StoreOptions
        @Flag(help: "Print a JSON object.") var json = false

        func run() throws {
            let store = try storeOptions.open()
            let s = try store.stats()
            let refs = try store.listRefs().count
            if json {
                printJSON([
                    "objects": .int(s.objects),
                    "logical_bytes": .int(s.logicalBytes),
                    "disk_bytes": .int(s.diskBytes),
                    "codecs": .object(s.byCodec.mapValues { .int($0) }),
                    "saving": .double(s.logicalBytes > 0 ? 1 - Double(s.diskBytes) / Double(s.logicalBytes) : 0),
                    "by_codec": .object(s.codecUsage.mapValues(usageJSON)),
                    "by_role": .object(s.roleUsage.mapValues(usageJSON)),
                    "kinds": .object(s.byKind.mapValues { .int($0) }),
                    "refs": .int(refs),
                    "unreadable": .array(s.unreadable.map { .string($0.hex) }),
                ])
                return
            }
            print("store     \(store.root)")
            print("objects   \(s.objects)  (\(s.byCodec.keys.sorted().map { "\($0) \(s.byCodec[$0]!)" }.joined(separator: ", ")))")
            print("logical   \(formatBytes(s.logicalBytes))")
            print("on disk   \(formatBytes(s.diskBytes))")
            print("refs      \(refs)")
            for (title, usage) in [("codec", s.codecUsage), ("role", s.roleUsage)] {
                for name in usage.keys.sorted() where usage[name]!.objects > 0 {
                    let u = usage[name]!
                    print("\(title) \(name.padding(toLength: 20, withPad: " ", startingAt: 0)) \(String(u.objects).leftPad(6)) objects  "
                          + "\(formatBytes(u.logicalBytes).leftPad(10)) logical  \(formatBytes(u.diskBytes).leftPad(10)) on disk  "
                          + String(format: "saving %5.1f%%", 100 * u.saving))
                }
            }
            if !s.unreadable.isEmpty { print("warning: \(s.unreadable.count) objects have unreadable headers; run 'bridge ckpt verify'") }
        }
    }
}

func usageJSON(_ u: Store.Usage) -> JSONValue {
    ["objects": .int(u.objects), "logical_bytes": .int(u.logicalBytes), "disk_bytes": .int(u.diskBytes), "saving": .double(u.saving)]
}

extension String {
    fileprivate func leftPad(_ n: Int) -> String { count >= n ? self : String(repeating: " ", count: n - count) + self }
}

/// 1536 → "1.5 KiB".
func formatBytes(_ n: Int) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var v = Double(n)
    var u = 0
    while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
    return u == 0 ? "\(n) B" : String(format: "%.1f %@", v, units[u])
}
