// Files written outside the store (exports: safetensors, Hugging Face and PEFT directories,
// dataset files) go through the same funnel as the store's own writes (Posix.swift: every write
// and fsync is a crash point the tests can stop at): a temporary beside the target, written,
// fsynced, renamed over the target, the directory fsynced. A reader never sees a half-written
// file, and after a crash the target is the old file or the whole new one.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

public enum ExportFile {
    /// Positioned writes into the file being made (safe from several threads for disjoint ranges).
    public struct Writer: @unchecked Sendable {
        let handle: FileHandle
        let size: Int
        let path: String

        public func write(_ bytes: UnsafeRawBufferPointer, at offset: Int) throws {
            guard offset >= 0, offset + bytes.count <= size else {
                throw IOError(operation: "write past the declared size of", path: path, errno: EINVAL)
            }
            try handle.pwriteAll(bytes, at: offset)
        }
    }

    /// Writes a file of `size` bytes at `path`: `body` fills it through the writer. Errors name
    /// the path.
    public static func write(path: String, size: Int, _ body: (Writer) throws -> Void) throws {
        let dir = Posix.parent(of: path)
        let base = path.split(separator: "/").last.map(String.init) ?? path
        let tmp = (dir == "." && !path.hasPrefix("./") ? "" : dir + "/") + ".\(base).tmp-\(Posix.processID())"
        var done = false
        defer { if !done { try? Posix.unlinkIfExists(tmp) } }
        do {
            let h = try FileHandle.open(tmp, flags: O_WRONLY | O_CREAT | O_TRUNC)
            try h.truncate(to: size)
            try body(Writer(handle: h, size: size, path: path))
            try h.sync()
        }
        try Posix.rename(tmp, path)
        done = true
        try Posix.syncDirectory(dir)
    }

    /// Writes `bytes` as the whole file at `path`.
    public static func write(path: String, bytes: [UInt8]) throws {
        try write(path: path, size: bytes.count) { w in try bytes.withUnsafeBytes { try w.write($0, at: 0) } }
    }
}
