// verify (re-hash objects, report corrupt and missing ones with what needs them) and gc
// (mark from refs and journals, sweep unreachable objects older than the grace period, remove
// dead writers' temporary files). Neither ever repairs or rewrites an object.

import Tensors

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public struct ObjectProblem: Sendable {
    public let id: ObjectID
    public let reason: String
    public let neededBy: [String]
}

public struct VerifyReport: Sendable {
    public var checked = 0
    public var corrupt: [ObjectProblem] = []
    public var missing: [ObjectProblem] = []
    public var ok: Bool { corrupt.isEmpty && missing.isEmpty }
}

public struct GCReport: Sendable {
    public var reachable = 0
    public var removed: [(id: ObjectID, bytes: Int)] = []
    public var keptYoung = 0
    /// Unreachable old objects kept because a kept delta needs them as its base.
    public var keptBases = 0
    public var removedTemporary: [String] = []
    public var missing: [ObjectID] = []
    public var removedBytes: Int { removed.reduce(0) { $0 + $1.bytes } }
}

extension Store {
    /// Checks objects against their ids. With `refs` nil: every object in the store, and every
    /// ref and journal for missing objects; otherwise only what the given refs reach.
    public func verify(refs: [RefName]? = nil) throws -> VerifyReport {
        guard let refs else { return try verify(roots: try roots(), everything: true) }
        return try verify(roots: try refs.map { ref in
            guard let id = try readRef(ref) else { throw StoreError.unknownRef(ref.path) }
            return (label: "ref '\(ref)'", id: id)
        })
    }

    /// Checks what `roots` reach (and, with `everything`, every object in the store).
    public func verify(roots rootList: [(label: String, id: ObjectID)], everything: Bool = false) throws -> VerifyReport {
        let reach = reachability(from: rootList)
        let toCheck: [ObjectID] = everything ? try allObjectIDs() : reach.reachable.filter { !reach.missing.contains($0) }.sorted()

        let results = Locked<[ObjectID: String]>([:])
        parallelFor(toCheck.count) { i in
            let id = toCheck[i]
            do {
                _ = try load(id, verify: true, useCache: false)  // a delta re-decodes its whole chain
            } catch let error as StoreError {
                let reason: String
                switch error {
                case let .corruptObject(_, _, why): reason = why
                case .missingObject: reason = "object file disappeared during verify"
                default: reason = error.description
                }
                results.withLock { $0[id] = reason }
            } catch {
                results.withLock { $0[id] = "\(error)" }
            }
        }
        var report = VerifyReport()
        report.checked = toCheck.count
        let bad = results.withLock { $0 }
        for id in bad.keys.sorted() {
            report.corrupt.append(ObjectProblem(id: id, reason: bad[id]!, neededBy: reach.describeNeeds(id)))
        }
        for (id, why) in reach.unreadable where bad[id] == nil {
            report.corrupt.append(ObjectProblem(id: id, reason: why, neededBy: reach.describeNeeds(id)))
        }
        for id in reach.missing.sorted() {
            report.missing.append(ObjectProblem(id: id, reason: "no object file", neededBy: reach.describeNeeds(id)))
        }
        return report
    }

    /// When the longest-running live writer of the store started (its session lock's creation
    /// time), nil with none. A session is live while its process holds the lock; this process's
    /// own sessions do not count.
    func oldestLiveWriter() throws -> Double? {
        var oldest: Double?
        let tmp = root + "/tmp"
        let own = Store.writerPrefix + "\(Posix.processID())-"  // this process is running gc, not writing
        for entry in try Posix.listDirectory(tmp) where entry.hasPrefix(Store.writerPrefix) && !entry.hasPrefix(own) {
            let lockPath = tmp + "/" + entry + "/.lock"
            guard let lock = try FileHandle.openIfExists(lockPath, flags: O_RDONLY | O_NOFOLLOW), let st = Posix.status(lockPath) else { continue }
            if try lock.lock(exclusive: true, wait: false) {
                lock.unlock()  // dead: nobody holds it
                continue
            }
            oldest = min(oldest ?? st.mtime, st.mtime)
        }
        return oldest
    }

    /// Removes unreachable objects older than the grace period and dead writers' temporary files.
    /// Refuses to sweep when a reachable manifest cannot be read (its children would look unreachable).
    public func gc(dryRun: Bool, graceSeconds: Double? = nil) throws -> GCReport {
        try withLock {
            var report = GCReport()
            let reach = reachability(from: try roots())
            if let (id, why) = reach.unreadable.first {
                throw StoreError.corruptObject(id, path: objectPath(id), reason: "gc cannot read this reachable manifest, so it sweeps nothing (\(why))")
            }
            report.reachable = reach.reachable.count
            report.missing = reach.missing.sorted()
            let grace = graceSeconds ?? config.gcGraceSeconds
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            // Whatever a live writer wrote or reused since it started may be about to become
            // reachable (its journal line or ref comes after the object): such objects stay
            // whatever the grace period, so `gc --grace 0` beside a running pipeline is safe.
            // File times come from the kernel's coarse clock (a tick of a few milliseconds): an
            // object written in the tick its writer's session began carries the session's very
            // time, so an object exactly as old as the cutoff is kept.
            let cutoff = min(Double(now.tv_sec) + Double(now.tv_nsec) * 1e-9 - grace, try oldestLiveWriter() ?? .infinity)
            var touchedDirectories: Set<String> = []
            // Young objects stay, and so does every delta base a kept object needs.
            let unreachable = try allObjectIDs().filter { !reach.reachable.contains($0) }
            var keep = reach.reachable
            var bases: [ObjectID] = []
            for id in unreachable {
                guard let st = Posix.status(objectPath(id)), st.mtime >= cutoff else { continue }
                keep.insert(id)
                report.keptYoung += 1
                bases.append(id)
            }
            while let id = bases.popLast() {
                guard let h = try? header(id), h.codec.isDelta, !reach.reachable.contains(h.base) else { continue }
                if keep.insert(h.base).inserted {
                    report.keptBases += 1
                    bases.append(h.base)
                }
            }
            for id in unreachable where !keep.contains(id) {
                let path = objectPath(id)
                guard let st = Posix.status(path) else { continue }
                report.removed.append((id, st.size))
                if !dryRun {
                    try Posix.unlinkIfExists(path)
                    touchedDirectories.insert(objectDirectory(id))
                }
            }
            for dir in touchedDirectories.sorted() { try Posix.syncDirectory(dir) }
            // Temporary files: a writer's directory is locked while the writer lives. It is named
            // w-… only once locked (Store.beginSession); before that it is n-<pid>-…, and may be a
            // writer between its mkdir and its lock: it goes once its process is gone (or, should
            // the pid be another host's or reused, once it is a minute old).
            let tmp = root + "/tmp"
            for entry in try Posix.listDirectory(tmp) {
                let path = tmp + "/" + entry
                if Posix.isDirectory(path) {
                    if !entry.hasPrefix(Store.writerPrefix) {
                        guard let st = Posix.status(path), !Store.isStartingWriter(entry) || st.mtime <= Double(now.tv_sec) - 60 else { continue }
                    }
                    guard let lock = try FileHandle.openIfExists(path + "/.lock", flags: O_RDONLY) else {
                        report.removedTemporary.append(entry)
                        if !dryRun { try Posix.removeTree(path) }
                        continue
                    }
                    if try lock.lock(exclusive: true, wait: false) {
                        report.removedTemporary.append(entry)
                        if !dryRun { try Posix.removeTree(path) }
                        lock.unlock()
                    }
                } else if let st = Posix.status(path), st.mtime <= cutoff || grace == 0 {
                    report.removedTemporary.append(entry)
                    if !dryRun { try Posix.unlinkIfExists(path) }
                }
            }
            return report
        }
    }
}
