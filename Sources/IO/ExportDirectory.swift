// Directories that exports and reports write into, made like `mkdir -p` through the funnel
// (Posix.makeDirectory: each mkdir is a crash point the tests can stop at).

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension ExportFile {
    /// Makes `path` and any missing parents; nothing to do when it is a directory already.
    /// Throws IOError naming the first directory that could not be made (a file in the way:
    /// ENOTDIR).
    public static func makeDirectories(_ path: String) throws {
        if Posix.isDirectory(path) { return }
        var prefix = path.hasPrefix("/") ? "/" : ""
        for part in path.split(separator: "/") {
            prefix += (prefix.isEmpty || prefix.hasSuffix("/") ? "" : "/") + part
            if Posix.isDirectory(prefix) { continue }
            if Posix.fileExists(prefix) { throw IOError(operation: "mkdir", path: prefix, errno: ENOTDIR) }
            try Posix.makeDirectory(prefix)
        }
        guard Posix.isDirectory(path) else { throw IOError(operation: "mkdir", path: path, errno: ENOTDIR) }
    }
}
