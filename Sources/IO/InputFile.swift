// Files the user names (tokenizers, datasets, configs, model directories, pipeline files) are
// read through the same funnel as the store's own files (Posix.swift's FileHandle), never through
// Foundation: one place that opens files, and one error that names the path and says why it
// could not be read.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import Tensors

/// A file or directory the user named could not be read: the path and the reason. Missing,
/// a directory where a file was wanted (or the reverse), or no permission: the user's to fix
/// (exit 1). A failure of the machine (an I/O error, out of memory or descriptors) exits 2.
public struct InputFileError: ClassifiedError, Equatable {
    public let path: String
    public let errno: Int32
    /// Whether a directory was wanted (to list it) rather than a file (to read it).
    public let directory: Bool

    public init(path: String, errno: Int32, directory: Bool = false) {
        self.path = path
        self.errno = errno
        self.directory = directory
    }

    /// The same failure as an error of the funnel's system calls (IOError).
    init(path: String, _ error: any Error, directory: Bool = false) {
        self.init(path: path, errno: (error as? IOError)?.errno ?? EIO, directory: directory)
    }

    /// Why, in a few words: "no such file", "is a directory", "permission denied", ...
    public var reason: String {
        switch errno {
        case ENOENT: directory ? "no such directory" : "no such file"
        case ENOTDIR: directory ? "not a directory" : "a component of the path is not a directory"
        case EISDIR: "is a directory"
        case EACCES, EPERM: "permission denied"
        default: errnoString(errno)
        }
    }

    public var description: String { "cannot read '\(path)': \(reason)" }

    public var errorClass: ErrorClass {
        switch errno {
        case ENOENT, ENOTDIR, EISDIR, EACCES, EPERM, ELOOP, ENAMETOOLONG: .input
        default: .internal
        }
    }
}

public enum InputFile {
    public enum Kind: Sendable { case file, directory }

    /// What is at `path` (symbolic links followed): a directory, some other file, or nil when
    /// there is nothing (or it cannot be reached).
    public static func kind(_ path: String) -> Kind? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return (st.st_mode & S_IFMT) == S_IFDIR ? .directory : .file
    }

    /// Whether something is at `path` (symbolic links followed).
    public static func exists(_ path: String) -> Bool { kind(path) != nil }

    /// The whole file at `path`. Files whose size stat does not tell (/proc, pipes) are read to
    /// their end.
    public static func read(_ path: String) throws(InputFileError) -> [UInt8] {
        let h = try open(path)
        let size: Int
        do { size = try h.size() } catch { throw InputFileError(path: path, error) }
        var bytes = [UInt8](repeating: 0, count: size + 1)  // one more: the read that finds the end
        var count = 0
        while true {
            if count == bytes.count { bytes += [UInt8](repeating: 0, count: max(bytes.count, 1 << 16)) }
            let n = bytes.withUnsafeMutableBytes { Glibc.read(h.fd, $0.baseAddress! + count, $0.count - count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw InputFileError(path: path, errno: errno)
            }
            if n == 0 { break }
            count += n
        }
        bytes.removeSubrange(count...)
        return bytes
    }

    /// Fails as `read` would, without reading: the file exists, is not a directory, and opens
    /// for reading.
    public static func checkReadable(_ path: String) throws(InputFileError) {
        _ = try open(path)
    }

    /// The names in a directory (without "." and ".."), sorted.
    public static func list(_ directory: String) throws(InputFileError) -> [String] {
        guard kind(directory) == .directory else {
            throw InputFileError(path: directory, errno: exists(directory) ? ENOTDIR : ENOENT, directory: true)
        }
        do { return try Posix.listDirectory(directory) } catch { throw InputFileError(path: directory, error, directory: true) }
    }

    private static func open(_ path: String) throws(InputFileError) -> FileHandle {
        let h: FileHandle
        do { h = try FileHandle.open(path, flags: O_RDONLY) } catch { throw InputFileError(path: path, error) }
        var st = stat()
        guard fstat(h.fd, &st) == 0 else { throw InputFileError(path: path, errno: errno) }
        if (st.st_mode & S_IFMT) == S_IFDIR { throw InputFileError(path: path, errno: EISDIR) }
        return h
    }
}
