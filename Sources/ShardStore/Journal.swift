// The journal: journal/<run>.jsonl, an append-only log of stage executions, one canonical JSON
// object per line (what a line holds is the Pipeline module's business: StageRecord). Each append happens under the store lock and is fsynced before it returns. A
// crash can leave a torn last line without its newline: readers ignore it and the next append
// cuts it off.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension Store {
    func journalPath(_ run: String) -> String { root + "/journal/" + run + ".jsonl" }

    /// Appends one line (an object; canonical encoding) to the run's journal.
    public func appendJournal(run: String, _ line: JSONValue) throws {
        try validateRunName(run)
        guard line.objectValue != nil else { throw StoreError.invalidJSON(what: "journal line", reason: "not an object") }
        let text = line.canonical + "\n"
        try withLock {
            let path = journalPath(run)
            let existed = Posix.fileExists(path)
            let h = try FileHandle.open(path, flags: O_RDWR | O_CREAT | O_NOFOLLOW)
            let size = try h.size()
            if size > 0 {
                // Cut a torn tail (a line a crash left without its newline).
                let tailLength = min(size, 1 << 20)
                let tail = try h.pread(count: tailLength, at: size - tailLength)
                if tail.last != UInt8(ascii: "\n") {
                    let keep = tail.lastIndex(of: UInt8(ascii: "\n")).map { size - tailLength + $0 + 1 } ?? 0
                    try h.truncate(to: keep)
                }
            }
            let end = try h.size()
            try Array(text.utf8).withUnsafeBytes { try h.pwriteAll($0, at: end) }
            try h.sync()
            if !existed { try Posix.syncDirectory(root + "/journal") }
        }
    }

    /// Every complete line of the run's journal, in order (empty if it has none).
    public func readJournal(run: String) throws -> [JSONValue] {
        try validateRunName(run)
        let path = journalPath(run)
        guard let bytes = try Posix.readFile(path, flags: O_RDONLY | O_NOFOLLOW) else { return [] }
        var lines: [JSONValue] = []
        var start = 0
        var number = 0
        while let nl = bytes[start...].firstIndex(of: UInt8(ascii: "\n")) {
            number += 1
            do {
                lines.append(try JSONValue(parsing: Array(bytes[start..<nl])))
            } catch {
                throw StoreError.invalidJSON(what: "'\(path)' line \(number)", reason: error.description)
            }
            start = nl + 1
        }
        return lines
    }

    /// Names of runs that have a journal.
    public func journalRuns() throws -> [String] {
        try Posix.listDirectory(root + "/journal").compactMap { name in
            name.hasSuffix(".jsonl") ? String(name.dropLast(6)) : nil
        }
    }
}
