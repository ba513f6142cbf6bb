// Thin, throwing wrappers over the system calls the store needs (open, write, fsync, link, flock,
// fstat, utimensat). Every error names the path it was working on.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import Synchronization
import Tensors

/// Deterministic crash points and injected faults for tests.
///
/// With BRIDGE_CRASH_AFTER_WRITES=N in the environment, the process kills itself (SIGKILL, as
/// `kill -9` would) just before its N-th mutating file-system operation (a create, write, fsync,
/// link, rename, unlink, mkdir, rmdir or truncate), so a test can place a crash at an exact point
/// of an action instead of guessing with a clock.
///
/// With BRIDGE_FAIL_AFTER_WRITES=N (and BRIDGE_FAIL_ERRNO=ENOSPC, EFBIG, EROFS, EACCES or EIO;
/// ENOSPC by default), the N-th mutating operation and every later one fails with that error, as
/// on a disk that filled up and stays full (removing files still works on a full disk, so unlink
/// and rmdir fail only for the other errors). In-process tests inject the same faults for one
/// directory with `injectFault(root:after:errno:)`.
package enum CrashPoint {
    package static let limit: Int? = {
        guard let p = getenv("BRIDGE_CRASH_AFTER_WRITES"), let n = Int(String(cString: p)), n > 0 else { return nil }
        return n
    }()
    package static let done = Atomic<Int>(0)

    struct Fault {
        var after: Int
        var errno: Int32
        var seen = 0
    }

    static let environmentFault: Fault? = {
        guard let p = getenv("BRIDGE_FAIL_AFTER_WRITES"), let n = Int(String(cString: p)), n > 0 else { return nil }
        let name = getenv("BRIDGE_FAIL_ERRNO").map { String(cString: $0) } ?? "ENOSPC"
        let codes: [String: Int32] = ["ENOSPC": ENOSPC, "EFBIG": EFBIG, "EROFS": EROFS, "EACCES": EACCES, "EIO": EIO, "EDQUOT": EDQUOT]
        return Fault(after: n, errno: codes[name] ?? ENOSPC)
    }()
    static let environmentSeen = Atomic<Int>(0)
    private static let faultsOpen = Atomic<Int>(0)
    private static let faults = Locked<[String: Fault]>([:])

    /// Makes the `after`-th mutating operation under `root`, and every later one, fail with `errno`.
    package static func injectFault(root: String, after: Int, errno: Int32) {
        faults.withLock { $0[root] = Fault(after: after, errno: errno) }
        faultsOpen.wrappingAdd(1, ordering: .sequentiallyConsistent)
    }

    /// Ends the fault under `root`; returns how many mutating operations it counted.
    @discardableResult
    package static func removeFault(root: String) -> Int {
        faultsOpen.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        return faults.withLock { $0.removeValue(forKey: root)?.seen ?? 0 }
    }

    /// Counts one mutating operation on `path`: dies first when it is the environment's crash
    /// point, throws the injected error when a fault is due. `frees` marks unlink and rmdir.
    @inline(__always) package static func tick(_ operation: String, _ path: String, frees: Bool = false) throws {
        if let limit, done.wrappingAdd(1, ordering: .relaxed).newValue >= limit { kill(getpid(), SIGKILL) }
        if let f = environmentFault, environmentSeen.wrappingAdd(1, ordering: .relaxed).newValue >= f.after {
            if !(frees && spaceOnly(f.errno)) { throw IOError(operation: operation, path: path, errno: f.errno) }
        }
        if faultsOpen.load(ordering: .relaxed) > 0 {
            let due: Int32? = faults.withLock { t in
                for (root, var f) in t where path == root || path.hasPrefix(root + "/") {
                    f.seen += 1
                    t[root] = f
                    return f.seen >= f.after && !(frees && spaceOnly(f.errno)) ? f.errno : nil
                }
                return nil
            }
            if let due { throw IOError(operation: operation, path: path, errno: due) }
        }
    }

    private static func spaceOnly(_ code: Int32) -> Bool { code == ENOSPC || code == EFBIG || code == EDQUOT }
}

/// One mutating file-system operation, as the funnel's trace records it: what a model of crash
/// states needs to replay it (the inode a write went to, its offset and bytes; the names a
/// directory operation changes).
package enum FSOp: Sendable, Equatable {
    case create(path: String, inode: UInt64)
    case truncate(path: String, inode: UInt64, length: Int)
    case write(path: String, inode: UInt64, offset: Int, bytes: [UInt8])
    /// fsync of a file (its data) or of a directory (its entries).
    case sync(path: String, inode: UInt64, directory: Bool)
    case link(from: String, to: String)
    case rename(from: String, to: String)
    case unlink(path: String)
    case mkdir(path: String)
    case rmdir(path: String)
}

/// Test mode of the funnel: while a trace is open for a directory, every mutating operation on a
/// path under it is recorded in the order it returned (TestSupport/CrashStates.swift replays
/// every prefix of the sequence). Several traces of disjoint directories may be open at once.
package enum FSTrace {
    private static let open = Atomic<Int>(0)
    private static let traces = Locked<[String: [FSOp]]>([:])

    /// Starts recording operations under `root` (an absolute path without a trailing slash).
    package static func begin(root: String) {
        traces.withLock { $0[root] = [] }
        open.wrappingAdd(1, ordering: .sequentiallyConsistent)
    }

    /// Stops recording under `root` and returns what was recorded.
    package static func end(root: String) -> [FSOp] {
        open.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        return traces.withLock { $0.removeValue(forKey: root) ?? [] }
    }

    @inline(__always) static var active: Bool { open.load(ordering: .relaxed) > 0 }

    static func record(_ path: String, _ op: () -> FSOp) {
        guard active else { return }
        traces.withLock { t in
            for root in t.keys where path == root || path.hasPrefix(root + "/") {
                t[root]!.append(op())
                return
            }
        }
    }

    /// The inode of an open descriptor (for the trace only).
    static func inode(_ fd: Int32) -> UInt64 {
        var st = stat()
        return fstat(fd, &st) == 0 ? UInt64(st.st_ino) : 0
    }
}

package func errnoString(_ code: Int32) -> String {
    String(cString: strerror(code))
}

/// An open file descriptor, closed when the value is dropped.
package final class FileHandle {
    package let fd: Int32
    package let path: String

    package init(fd: Int32, path: String) {
        self.fd = fd
        self.path = path
    }

    deinit { close(fd) }

    package static func open(_ path: String, flags: Int32, mode: mode_t = 0o644) throws -> FileHandle {
        let creates = flags & O_CREAT != 0
        if creates { try CrashPoint.tick("create", path) }
        let existed = creates && FSTrace.active && Posix.fileExists(path)
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC, mode)
            if fd >= 0 {
                if creates && FSTrace.active {
                    let inode = FSTrace.inode(fd)
                    if !existed {
                        FSTrace.record(path) { .create(path: path, inode: inode) }
                    } else if flags & O_TRUNC != 0 {
                        FSTrace.record(path) { .truncate(path: path, inode: inode, length: 0) }
                    }
                }
                return FileHandle(fd: fd, path: path)
            }
            if errno == EINTR { continue }
            throw IOError(operation: "open", path: path, errno: errno)
        }
    }

    /// nil when the file does not exist.
    package static func openIfExists(_ path: String, flags: Int32 = O_RDONLY) throws -> FileHandle? {
        while true {
            let fd = Glibc.open(path, flags | O_CLOEXEC)
            if fd >= 0 { return FileHandle(fd: fd, path: path) }
            if errno == EINTR { continue }
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw IOError(operation: "open", path: path, errno: errno)
        }
    }

    package func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var offset = 0
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, 1 << 30)
            try CrashPoint.tick("write", path)
            let n = Glibc.write(fd, bytes.baseAddress! + offset, chunk)
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError(operation: "write", path: path, errno: errno)
            }
            if FSTrace.active {
                let end = Int(lseek(fd, 0, SEEK_CUR))
                let written = Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
                FSTrace.record(path) { .write(path: path, inode: FSTrace.inode(fd), offset: end - n, bytes: written) }
            }
            offset += n
        }
    }

    package func writeAll(_ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try writeAll($0) }
    }

    package func pwriteAll(_ bytes: UnsafeRawBufferPointer, at start: Int) throws {
        var offset = 0
        while offset < bytes.count {
            let chunk = min(bytes.count - offset, 1 << 30)
            try CrashPoint.tick("write", path)
            let n = Glibc.pwrite(fd, bytes.baseAddress! + offset, chunk, off_t(start + offset))
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError(operation: "write", path: path, errno: errno)
            }
            if FSTrace.active {
                let written = Array(UnsafeRawBufferPointer(rebasing: bytes[offset..<(offset + n)]))
                FSTrace.record(path) { .write(path: path, inode: FSTrace.inode(fd), offset: start + offset, bytes: written) }
            }
            offset += n
        }
    }

    /// Reads exactly `count` bytes at `offset`, or fewer at end of file.
    package func pread(count: Int, at offset: Int) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: count)
        let done = try out.withUnsafeMutableBytes { try pread(into: $0, at: offset) }
        return Array(out[0..<done])
    }

    /// Fills `buffer` from `offset`; returns the bytes read (fewer only at end of file).
    package func pread(into buffer: UnsafeMutableRawBufferPointer, at offset: Int) throws -> Int {
        var done = 0
        while done < buffer.count {
            let n = Glibc.pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw IOError(operation: "read", path: path, errno: errno)
            }
            if n == 0 { break }
            done += n
        }
        return done
    }

    /// Sets the file's length (cutting or zero-extending it).
    package func truncate(to length: Int) throws {
        try CrashPoint.tick("truncate", path)
        guard ftruncate(fd, off_t(length)) == 0 else { throw IOError(operation: "truncate", path: path, errno: errno) }
        FSTrace.record(path) { .truncate(path: path, inode: FSTrace.inode(fd), length: length) }
    }

    package func readToEnd() throws -> [UInt8] {
        let size = try self.size()
        return try pread(count: size, at: 0)
    }

    package func size() throws -> Int {
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw IOError(operation: "stat", path: path, errno: errno) }
        return Int(st.st_size)
    }

    package func sync() throws {
        try CrashPoint.tick("fsync", path)
        guard fsync(fd) == 0 else { throw IOError(operation: "fsync", path: path, errno: errno) }
        if FSTrace.active {
            var st = stat()
            let isDirectory = fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
            FSTrace.record(path) { .sync(path: path, inode: UInt64(st.st_ino), directory: isDirectory) }
        }
    }

    package func lock(exclusive: Bool, wait: Bool = true) throws -> Bool {
        let op = (exclusive ? LOCK_EX : LOCK_SH) | (wait ? 0 : LOCK_NB)
        while true {
            if flock(fd, op) == 0 { return true }
            if errno == EINTR { continue }
            if errno == EWOULDBLOCK { return false }
            throw IOError(operation: "flock", path: path, errno: errno)
        }
    }

    package func unlock() {
        _ = flock(fd, LOCK_UN)
    }
}

package enum Posix {
    package static func fileExists(_ path: String) -> Bool {
        var st = stat()
        return lstat(path, &st) == 0
    }

    /// True for a directory, false for nothing there or a file; a symbolic link (to anything)
    /// throws ELOOP: the store's own directories are never links, so one is planted.
    package static func isRealDirectory(_ path: String) throws -> Bool {
        var st = stat()
        guard lstat(path, &st) == 0 else { return false }
        switch st.st_mode & S_IFMT {
        case S_IFDIR: return true
        case S_IFLNK: throw IOError(operation: "use", path: path, errno: ELOOP)
        default: return false
        }
    }

    package static func isDirectory(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0 && (st.st_mode & S_IFMT) == S_IFDIR
    }

    /// (size, modification time in seconds since the epoch), nil if absent.
    package static func status(_ path: String) -> (size: Int, mtime: Double, mode: mode_t)? {
        var st = stat()
        guard lstat(path, &st) == 0 else { return nil }
        return (Int(st.st_size), Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) * 1e-9, st.st_mode)
    }

    /// What identifies one version of a file: device, inode, size and modification time (ns).
    package struct FileIdentity: Equatable, Sendable {
        package var device: UInt64, inode: UInt64, size: Int, mtime: Int64
    }

    package static func identity(_ path: String) -> FileIdentity? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return FileIdentity(device: UInt64(st.st_dev), inode: UInt64(st.st_ino), size: Int(st.st_size),
                            mtime: Int64(st.st_mtim.tv_sec) * 1_000_000_000 + Int64(st.st_mtim.tv_nsec))
    }

    package static func makeDirectory(_ path: String) throws {
        try CrashPoint.tick("mkdir", path)
        if mkdir(path, 0o755) == 0 {
            FSTrace.record(path) { .mkdir(path: path) }
        } else if errno != EEXIST {
            throw IOError(operation: "mkdir", path: path, errno: errno)
        }
    }

    package static func syncDirectory(_ path: String) throws {
        let h = try FileHandle.open(path, flags: O_RDONLY | O_DIRECTORY)
        try h.sync()
    }

    /// Makes `target` name the file at `source` unless `target` exists. Returns false if it did.
    package static func linkNoReplace(_ source: String, _ target: String) throws -> Bool {
        try CrashPoint.tick("link", target)
        if link(source, target) == 0 {
            FSTrace.record(target) { .link(from: source, to: target) }
            return true
        }
        if errno == EEXIST { return false }
        throw IOError(operation: "link", path: target, errno: errno)
    }

    package static func rename(_ source: String, _ target: String) throws {
        try CrashPoint.tick("rename", target)
        guard Glibc.rename(source, target) == 0 else {
            throw IOError(operation: "rename", path: target, errno: errno)
        }
        FSTrace.record(target) { .rename(from: source, to: target) }
    }

    package static func unlinkIfExists(_ path: String) throws {
        try CrashPoint.tick("unlink", path, frees: true)
        if unlink(path) == 0 {
            FSTrace.record(path) { .unlink(path: path) }
        } else if errno != ENOENT {
            throw IOError(operation: "unlink", path: path, errno: errno)
        }
    }

    package static func removeDirectory(_ path: String) throws {
        try CrashPoint.tick("rmdir", path, frees: true)
        if rmdir(path) == 0 {
            FSTrace.record(path) { .rmdir(path: path) }
        } else if errno != ENOENT {
            throw IOError(operation: "rmdir", path: path, errno: errno)
        }
    }

    /// Sets the modification time to now (keeps a deduplicated object young for gc's grace period).
    package static func touch(_ path: String) {
        _ = utimensat(AT_FDCWD, path, nil, 0)
    }

    /// Entries of a directory (without "." and ".."), empty if it does not exist.
    package static func listDirectory(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return [] }
            throw IOError(operation: "opendir", path: path, errno: errno)
        }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafePointer(to: entry.pointee.d_name) {
                $0.withMemoryRebound(to: CChar.self, capacity: 256) { String(cString: $0) }
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Removes a directory tree (used for dead writers' tmp directories only).
    package static func removeTree(_ path: String) throws {
        if let st = status(path), (st.mode & S_IFMT) == S_IFDIR {
            for name in try listDirectory(path) { try removeTree(path + "/" + name) }
            try removeDirectory(path)
        } else {
            try unlinkIfExists(path)
        }
    }

    package static func readFile(_ path: String, flags: Int32 = O_RDONLY) throws -> [UInt8]? {
        guard let h = try FileHandle.openIfExists(path, flags: flags) else { return nil }
        return try h.readToEnd()
    }

    /// Writes a small file atomically and durably: write `tmp`, fsync, rename over `path`, fsync its directory.
    package static func writeFileAtomically(_ path: String, bytes: [UInt8], temporary tmp: String) throws {
        do {
            let h = try FileHandle.open(tmp, flags: O_WRONLY | O_CREAT | O_EXCL)
            try h.writeAll(bytes)
            try h.sync()
        }
        try rename(tmp, path)
        try syncDirectory(parent(of: path))
    }

    package static func parent(of path: String) -> String {
        guard let slash = path.lastIndex(of: "/") else { return "." }
        return slash == path.startIndex ? "/" : String(path[..<slash])
    }

    package static func processID() -> Int32 { getpid() }
}
