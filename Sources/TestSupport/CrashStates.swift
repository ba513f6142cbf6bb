// Every state a crash could leave, enumerated (after ALICE, OSDI '14, and SQLite's power-loss
// tests): a store action runs once with the file-system funnel's trace open (IO/Posix.swift,
// FSTrace), which records each mutating operation under the store's directory in order. Then,
// for every prefix of that sequence, the harness rebuilds the directory a crash at that point
// could leave and hands it to a check:
//
// - the process dies (kill -9): every operation of the prefix reached the disk;
// - the machine loses power: only what an fsync made durable is there (a file's writes and
//   truncations once the file is fsynced; a name created, linked, renamed or removed once its
//   directory, for a rename the target's, is fsynced), and then each operation not yet durable alone on top of that, and
//   each one alone missing from the whole prefix: operations no fsync orders may reach the
//   disk in any order (names in writers' temporary directories, which nothing reads, are kept
//   or dropped together);
// - the last write is torn: only its first half is there.
//
// States that come out the same (outside writers' temporary directories, which nothing reads)
// are checked once. A state is `complete` when the action had
// returned (the whole sequence, by kill or by power loss): what the action committed must be
// there.

import Foundation
import IO
import ShardStore

public struct CrashState: CustomStringConvertible, Sendable {
    /// Operations of the trace that preceded the crash, of `total`.
    public let prefix: Int
    public let total: Int
    /// How the state was made: "kill", "power", "power+op N", "kill-op N", "torn op N".
    public let kind: String
    /// The operation the crash followed (nil at the start).
    public let last: String?
    /// True when the action had returned before the crash.
    public var complete: Bool { prefix == total && (kind == "kill" || kind == "power") }

    public var description: String {
        "crash after \(prefix)/\(total) operations (\(kind))" + (last.map { "; last: \($0)" } ?? "")
    }
}

/// A state the check refused, with what it said.
public struct CrashStateFailure: Error, CustomStringConvertible {
    public let state: CrashState
    public let directory: String
    public let error: any Error
    public var description: String { "\(state): \(error)" }
}

public struct CrashStateReport: Sendable {
    public var operations = 0
    public var prefixes = 0
    /// Distinct states materialised and checked.
    public var states = 0
    /// States in which the action ran again (CrashStates.check).
    public var resumed = 0
}

public enum CrashStates {
    /// Runs `action` on the store at `root` (absolute) with the trace open, then checks every crash
    /// state of its operations: each is written to a directory under `scratch` and passed to
    /// `check`, which throws (or records an issue) if the state is not acceptable.
    ///
    /// With `sample` k > 1, only every k-th crash point among those inside object writes (under
    /// objects/ and tmp/) is checked; every point after an operation on anything else (refs,
    /// journals, the config) still is. The suite samples long actions; tools/crash-states.sh
    /// checks them whole.
    public static func enumerate(root: String, scratch: String, sample: Int = 1, action: () throws -> Void,
                                 check: (String, CrashState) throws -> Void) throws -> CrashStateReport {
        let initial = try Snapshot(root: root)
        FSTrace.begin(root: root)
        do { try action() } catch {
            _ = FSTrace.end(root: root)
            throw error
        }
        let trace = FSTrace.end(root: root)
        var model = Model(snapshot: initial, root: root)
        let ops = model.translate(trace)
        let durableAt = durability(ops)
        if ProcessInfo.processInfo.environment["BRIDGE_CRASH_STATES_TRACE"] != nil {
            for (i, op) in ops.enumerated() { print("op \(i): \(op.summary(root: root)) durable at \(durableAt[i] == Int.max ? "never" : "\(durableAt[i])")") }
        }

        var report = CrashStateReport(operations: ops.count)
        var seen = Set<[UInt8]>()
        // Files of the store before the action, written once: unchanged objects in a state are
        // hard links to them (objects are never written in place, by the store or the checks).
        let base = scratch + "/base"
        try model.initialTree.materialise(at: base)
        var tree = model.initialTree
        tree.base = base
        let initialTree = tree
        defer { try? FileManager.default.removeItem(atPath: base) }
        for k in 0...ops.count {
            if sample > 1 && k % sample != 0 && k != ops.count && k > 0 && ops[k - 1].touchesObjectsOnly { continue }
            report.prefixes += 1
            let all = Array(0..<k)
            let durable = all.filter { durableAt[$0] < k }
            // Names in writers' temporary directories are never read (gc removes a dead writer's
            // directory whole): whether each reached the disk is not varied one by one.
            let pending = all.filter { durableAt[$0] >= k && !ops[$0].namesTemporaryOnly }
            var variants: [(String, [Int], torn: Int?)] = [("kill", all, nil), ("power", durable, nil)]
            for i in pending {
                variants.append(("power+op \(i)", (durable + [i]).sorted(), nil))
                variants.append(("kill-op \(i)", all.filter { $0 != i }, nil))
            }
            if k > 0, case let .write(_, _, bytes) = ops[k - 1], bytes.count > 1 {
                variants.append(("torn op \(k - 1)", all, k - 1))
            }
            for (kind, chosen, torn) in variants {
                let state = CrashState(prefix: k, total: ops.count, kind: kind, last: k > 0 ? ops[k - 1].summary(root: root) : nil)
                var tree = initialTree
                for i in chosen { tree.apply(ops[i], tornHalf: i == torn) }
                var key = tree.fingerprint()
                key.append(state.complete ? 1 : 0)
                guard seen.insert(key).inserted else { continue }
                let dir = scratch + "/state-\(report.states)"
                try tree.materialise(at: dir)
                defer { try? FileManager.default.removeItem(atPath: dir) }
                report.states += 1
                do { try check(dir, state) } catch {
                    throw CrashStateFailure(state: state, directory: dir, error: error)
                }
            }
        }
        return report
    }

    /// For each operation, the index of the first later fsync that makes it durable (Int.max if
    /// none does). An fsync itself changes nothing and counts as durable at once.
    static func durability(_ ops: [Op]) -> [Int] {
        var firstSync: [Int] = Array(repeating: Int.max, count: ops.count)
        var fileSyncs: [Int: [Int]] = [:], dirSyncs: [String: [Int]] = [:]
        for (j, op) in ops.enumerated() {
            if case let .syncFile(inode) = op { fileSyncs[inode, default: []].append(j) }
            if case let .syncDirectory(path) = op { dirSyncs[path, default: []].append(j) }
        }
        func after(_ list: [Int]?, _ i: Int) -> Int { list?.first(where: { $0 > i }) ?? Int.max }
        for (i, op) in ops.enumerated() {
            switch op {
            case .syncFile, .syncDirectory: firstSync[i] = i
            case let .write(inode, _, _), let .truncate(inode, _): firstSync[i] = after(fileSyncs[inode], i)
            case let .create(path, _), let .link(_, path, _), let .unlink(path), let .mkdir(path), let .rmdir(path):
                firstSync[i] = after(dirSyncs[parent(path)], i)
            case let .rename(_, to, _):
                // Durable once the target's directory is synced (one journal transaction on
                // Linux file systems; whether the old name lingers does not matter to readers).
                firstSync[i] = after(dirSyncs[parent(to)], i)
            }
        }
        return firstSync
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "" }
        return String(path[..<slash])
    }

    /// An operation of the trace with paths relative to the root and inodes renamed so that each
    /// file created gets its own number (the system reuses the numbers of removed files).
    enum Op {
        case create(String, inode: Int)
        case truncate(inode: Int, length: Int)
        case write(inode: Int, offset: Int, bytes: [UInt8])
        case syncFile(inode: Int)
        case syncDirectory(String)
        /// A new name for the file the source name held when the operation ran.
        case link(String, String, inode: Int)
        case rename(String, String, inode: Int)
        case unlink(String)
        case mkdir(String)
        case rmdir(String)

        /// True for a name made or removed in a writer's temporary directory.
        var namesTemporaryOnly: Bool {
            switch self {
            case let .create(p, _), let .unlink(p), let .mkdir(p), let .rmdir(p): return p.hasPrefix("tmp/")
            case let .rename(a, b, _): return a.hasPrefix("tmp/") && b.hasPrefix("tmp/")
            default: return false
            }
        }

        /// True for operations on object files and writers' temporary files only.
        var touchesObjectsOnly: Bool {
            func inside(_ p: String) -> Bool { p.hasPrefix("objects/") || p.hasPrefix("tmp/") || p == "objects" || p == "tmp" }
            switch self {
            case let .create(p, _), let .syncDirectory(p), let .unlink(p), let .mkdir(p), let .rmdir(p): return inside(p)
            case let .link(a, b, _), let .rename(a, b, _): return inside(a) && inside(b)
            case .write, .truncate, .syncFile: return true  // data of a file, not its name
            }
        }

        func summary(root: String) -> String {
            switch self {
            case let .create(p, _): "create \(p)"
            case let .truncate(i, n): "truncate inode \(i) to \(n)"
            case let .write(i, o, b): "write \(b.count) bytes at \(o) of inode \(i)"
            case let .syncFile(i): "fsync inode \(i)"
            case let .syncDirectory(p): "fsync directory \(p.isEmpty ? "." : p)"
            case let .link(a, b, _): "link \(a) -> \(b)"
            case let .rename(a, b, _): "rename \(a) -> \(b)"
            case let .unlink(p): "unlink \(p)"
            case let .mkdir(p): "mkdir \(p)"
            case let .rmdir(p): "rmdir \(p)"
            }
        }
    }

    /// The directory's files and folders before the action.
    struct Snapshot {
        var files: [(path: String, inode: UInt64, bytes: [UInt8])] = []
        var directories: [String] = []

        init(root: String) throws {
            try walk(root, relative: "")
        }

        private mutating func walk(_ path: String, relative: String) throws {
            for name in try FileManager.default.contentsOfDirectory(atPath: path).sorted() {
                let full = path + "/" + name, rel = relative.isEmpty ? name : relative + "/" + name
                var st = stat()
                guard lstat(full, &st) == 0 else { continue }
                switch st.st_mode & S_IFMT {
                case S_IFDIR:
                    directories.append(rel)
                    try walk(full, relative: rel)
                case S_IFREG:
                    guard let bytes = try Posix.readFile(full) else { throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: full]) }
                    files.append((rel, UInt64(st.st_ino), bytes))
                default:
                    throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: full])
                }
            }
        }
    }

    /// A directory tree in memory: names bound to files (numbered), file contents, folders.
    struct Tree {
        var contents: [Int: [UInt8]] = [:]
        var names: [String: Int] = [:]
        var directories: Set<String> = []
        /// Where the files of the initial tree were written, and which of them changed since.
        var base: String?
        var initialPaths: [Int: String] = [:]
        var initialHashes: [Int: Int] = [:]
        var changed: Set<Int> = []

        mutating func apply(_ op: Op, tornHalf: Bool = false) {
            switch op {
            case let .create(path, inode):
                // The name is a directory entry; the file itself exists once written to.
                if contents[inode] == nil { contents[inode] = [] }
                names[path] = inode
            case let .truncate(inode, length):
                changed.insert(inode)
                var c = contents[inode] ?? []
                if c.count > length { c.removeLast(c.count - length) } else { c += [UInt8](repeating: 0, count: length - c.count) }
                contents[inode] = c
            case let .write(inode, offset, bytes):
                changed.insert(inode)
                var c = contents[inode] ?? []
                let b = tornHalf ? Array(bytes.prefix(bytes.count / 2)) : bytes
                if c.count < offset + b.count { c += [UInt8](repeating: 0, count: offset + b.count - c.count) }
                c.replaceSubrange(offset..<(offset + b.count), with: b)
                contents[inode] = c
            case .syncFile, .syncDirectory:
                break
            case let .link(_, to, inode):
                // The file exists whether or not the crash kept its first name.
                if names[to] == nil { names[to] = inode }
            case let .rename(from, to, inode):
                if names[from] == inode { names[from] = nil }
                names[to] = inode
            case let .unlink(path):
                names[path] = nil
            case let .mkdir(path):
                directories.insert(path)
            case let .rmdir(path):
                directories.remove(path)
            }
        }

        /// The same bytes for the same tree, whatever the numbering of its files. Writers'
        /// temporary directories are left out: nothing reads them (gc removes a dead writer's
        /// whole), so trees that differ only there are one state to the store.
        func fingerprint() -> [UInt8] {
            var out: [UInt8] = []
            for d in directories.sorted() where !d.hasPrefix("tmp/") { out += Array("d \(d)\n".utf8) }
            for (name, inode) in names.sorted(by: { $0.key < $1.key }) where !name.hasPrefix("tmp/") {
                let c = contents[inode] ?? []
                var hash = changed.contains(inode) ? nil : initialHashes[inode]
                if hash == nil {
                    var h = Hasher()
                    h.combine(c)
                    hash = h.finalize()
                }
                out += Array("f \(name) \(c.count) \(hash!)\n".utf8)
            }
            return out
        }

        /// Writes the tree as a real directory (files whose folder the crash lost are lost too).
        func materialise(at dir: String) throws {
            let fm = FileManager.default
            try fm.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var made: Set<String> = [""]
            for d in directories.sorted() where made.contains(CrashStates.parent(d)) {
                try fm.createDirectory(atPath: dir + "/" + d, withIntermediateDirectories: false)
                made.insert(d)
            }
            for (name, inode) in names {
                let p = CrashStates.parent(name)
                guard made.contains(p) else { continue }
                if let base, name.hasPrefix("objects/"), !changed.contains(inode), let from = initialPaths[inode] {
                    try fm.linkItem(atPath: base + "/" + from, toPath: dir + "/" + name)
                    continue
                }
                guard fm.createFile(atPath: dir + "/" + name, contents: Data(contents[inode] ?? [])) else {
                    throw CocoaError(.fileWriteUnknown, userInfo: [NSFilePathErrorKey: dir + "/" + name])
                }
            }
        }
    }

    /// Turns the trace's real paths and inode numbers into the tree's.
    struct Model {
        let root: String
        var initialTree = Tree()
        var current: [UInt64: Int] = [:]
        var next = 0

        init(snapshot: Snapshot, root: String) {
            self.root = root
            for d in snapshot.directories { initialTree.directories.insert(d) }
            for f in snapshot.files {
                let n = current[f.inode] ?? fresh(f.inode)
                initialTree.contents[n] = f.bytes
                initialTree.names[f.path] = n
                initialTree.initialPaths[n] = f.path
                var h = Hasher()
                h.combine(f.bytes)
                initialTree.initialHashes[n] = h.finalize()
            }
        }

        private mutating func fresh(_ real: UInt64) -> Int {
            next += 1
            current[real] = next
            return next
        }

        private func relative(_ path: String) -> String {
            path == root ? "" : String(path.dropFirst(root.count + 1))
        }

        mutating func translate(_ trace: [FSOp]) -> [Op] {
            var full = initialTree  // the uninterrupted sequence, to know which file a name held
            return trace.map { op in
                let translated = translate(op, names: full.names)
                full.apply(translated)
                return translated
            }
        }

        private mutating func translate(_ op: FSOp, names: [String: Int]) -> Op {
                switch op {
                case let .create(path, inode): return .create(relative(path), inode: fresh(inode))
                case let .truncate(_, inode, length): return .truncate(inode: current[inode] ?? fresh(inode), length: length)
                case let .write(_, inode, offset, bytes): return .write(inode: current[inode] ?? fresh(inode), offset: offset, bytes: bytes)
                case let .sync(path, inode, directory):
                    return directory ? .syncDirectory(relative(path)) : .syncFile(inode: current[inode] ?? fresh(inode))
                case let .link(from, to): return .link(relative(from), relative(to), inode: names[relative(from)] ?? 0)
                case let .rename(from, to): return .rename(relative(from), relative(to), inode: names[relative(from)] ?? 0)
                case let .unlink(path): return .unlink(relative(path))
                case let .mkdir(path): return .mkdir(relative(path))
                case let .rmdir(path): return .rmdir(relative(path))
                }
        }
    }
}

public struct CrashCheckFailure: Error, CustomStringConvertible {
    public let description: String
    public init(description: String) { self.description = description }
}

/// What a store shows of its committed state: refs and journals.
public struct CommittedState: Equatable {
    public var refs: [String: ObjectID]
    public var journals: [String: [JSONValue]]

    public init(_ store: Store) throws {
        refs = Dictionary(uniqueKeysWithValues: try store.listRefs().map { ($0.name.path, $0.id) })
        journals = [:]
        for run in try store.journalRuns() { journals[run] = try store.readJournal(run: run) }
    }
}

extension CrashStates {
    /// The checks every store action must pass in every crash state of it, on `store` (prepared
    /// by the caller): the store opens; each ref committed before the action is intact, a ref the
    /// action moves is its old or its new value (the new one once the action returned); journals
    /// lose no committed line; `verify` finds every object whole. Then the next run continues: the
    /// action runs again and leaves the refs an uninterrupted run leaves, and `after` checks more
    /// (in every state, or with `resumeEvery` k in every k-th and in the complete ones).
    /// Prints the counts for the reliability table (tools/crash-states.sh collects the lines).
    public static func check(_ label: String, store: Store, scratch: String, sample: Int = 1, resumeEvery: Int = 1,
                             action: (Store) throws -> Void,
                             after: (Store, CrashState) throws -> Void = { _, _ in }) throws -> CrashStateReport {
        let before = try CommittedState(store)
        var afterState: CommittedState?
        var resumed = 0, index = 0
        var report = try CrashStates.enumerate(root: store.root, scratch: scratch, sample: sample) {
            try action(store)
        } check: { path, state in
            if afterState == nil { afterState = try CommittedState(store) }
            let afterState = afterState!
            func fail(_ what: String) -> CrashCheckFailure { CrashCheckFailure(description: "\(label): \(what)") }
            let crashed = try Store(at: path)
            let seen = try CommittedState(crashed)
            for name in Set(before.refs.keys).union(afterState.refs.keys) {
                let old = before.refs[name], new = afterState.refs[name], now = seen.refs[name]
                if state.complete {
                    guard now == new else { throw fail("ref \(name) is \(now?.hex ?? "absent"), committed \(new?.hex ?? "absent")") }
                } else {
                    guard now == old || now == new else { throw fail("ref \(name) is \(now?.hex ?? "absent"), neither its old nor its new value") }
                }
            }
            for run in Set(before.journals.keys).union(afterState.journals.keys) {
                let old = before.journals[run] ?? [], new = afterState.journals[run] ?? [], now = seen.journals[run] ?? []
                guard now.count >= old.count, Array(now.prefix(old.count)) == old, Array(new.prefix(now.count)) == now else {
                    throw fail("journal \(run) has \(now.count) lines, not an extension of the \(old.count) committed before")
                }
                if state.complete && now != new { throw fail("journal \(run) lost a line the action committed") }
            }
            let verified = try crashed.verify()
            guard verified.ok else {
                throw fail("verify: \(verified.corrupt.map { "\($0.id) \($0.reason)" } + verified.missing.map { "missing \($0.id)" })")
            }
            index += 1
            guard state.complete || index % resumeEvery == 1 || resumeEvery == 1 else { return }
            resumed += 1
            try action(crashed)
            let again = try CommittedState(crashed)
            guard again.refs == afterState.refs else { throw fail("after running again the refs differ from an uninterrupted run's") }
            guard try crashed.verify().ok else { throw fail("verify after running again") }
            try after(crashed, state)
        }
        report.resumed = resumed
        print("crash states: \(label): \(report.operations) operations, \(report.prefixes) crash points, \(report.states) states checked, \(resumed) resumed")
        return report
    }
}

/// Faults at every point of an action: the N-th mutating operation and all later ones fail with
/// `errno` (a disk that fills up and stays full, a file-size limit, a file system that turns
/// read-only), for N = 1, 2, ... until the action no longer reaches the fault. After each: the
/// error is a clear IOError naming the path (or the action still succeeded), the committed state
/// is intact, `verify` is clean, and once the fault is gone the action runs again to the state an
/// uninterrupted one leaves.
public enum InjectedFaults {
    public struct Report: Sendable {
        public var points = 0
        public var failed = 0
    }

    public static func check(_ label: String, store prepared: Store, scratch: String, errno code: Int32, every: Int = 1,
                             action: (Store) throws -> Void) throws -> Report {
        let before = try CommittedState(prepared)
        let reference = scratch + "/reference"
        try FileManager.default.copyItem(atPath: prepared.root, toPath: reference)
        let uninterrupted = try Store(at: reference)
        try action(uninterrupted)
        let after = try CommittedState(uninterrupted)
        var report = Report()
        var n = 1
        while true {
            let dir = scratch + "/fault-\(n)"
            try FileManager.default.copyItem(atPath: prepared.root, toPath: dir)
            defer { try? FileManager.default.removeItem(atPath: dir) }
            func fail(_ what: String) -> CrashCheckFailure { CrashCheckFailure(description: "\(label): fault at operation \(n): \(what)") }
            let store = try Store(at: dir)
            CrashPoint.injectFault(root: dir, after: n, errno: code)
            var thrown: (any Error)?
            do { try action(store) } catch { thrown = error }
            let seen = CrashPoint.removeFault(root: dir)
            report.points += 1
            if seen < n {
                // The action finished before the n-th operation: every point has been tried.
                if let thrown { throw fail("the action failed without a fault: \(thrown)") }
                break
            }
            guard let thrown else { throw fail("the action succeeded although its operations failed") }
            report.failed += 1
            let text = "\(thrown)"
            guard text.contains(dir), text.contains(String(cString: strerror(code))) else {
                throw fail("the error does not name the path and the reason: \(text)")
            }
            let now = try CommittedState(Store(at: dir))
            for (name, id) in now.refs where before.refs[name] != id && after.refs[name] != id {
                throw fail("ref \(name) is \(id.hex), neither its old nor its new value")
            }
            for (name, id) in before.refs where now.refs[name] != id && after.refs[name] == id {
                throw fail("ref \(name) lost its committed value")
            }
            let fresh = try Store(at: dir)
            let verified = try fresh.verify()
            guard verified.ok else { throw fail("verify: \(verified.corrupt.map(\.reason)) \(verified.missing.map(\.id))") }
            if n % every == 0 {
                try action(fresh)
                guard try CommittedState(fresh).refs == after.refs else { throw fail("run again, the refs differ from an uninterrupted run's") }
            }
            n += 1
        }
        print("injected faults: \(label) (\(String(cString: strerror(code)))): \(report.points) points, \(report.failed) failed cleanly")
        return report
    }
}
