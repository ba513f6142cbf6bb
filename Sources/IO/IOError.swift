// The one error of the file-system funnel: which call failed, on which path, and the system's
// reason. It is the machine's fault, not the user's input (exit 2), except where the reason says
// the user can act: a full disk, a read-only or unwritable place, a file-size limit.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

import Tensors

public struct IOError: ClassifiedError, Equatable {
    public let operation: String
    public let path: String
    public let errno: Int32

    public init(operation: String, path: String, errno: Int32) {
        self.operation = operation
        self.path = path
        self.errno = errno
    }

    public var description: String {
        var text = "\(operation) failed for '\(path)': \(errnoString(errno))"
        if let hint { text += "\nhint: \(hint)" }
        return text
    }

    var hint: String? {
        switch errno {
        case ENOSPC, EDQUOT: return "the file system is full; free space (e.g. 'bridge gc') and run the command again: what was committed is intact"
        case EFBIG: return "a file-size limit (ulimit -f) stopped the write; raise it and run the command again"
        case EROFS: return "the file system is mounted read-only"
        case EACCES, EPERM: return "no permission; check the owner and mode of '\(path)' and its directory"
        case ELOOP: return "'\(path)' is a symbolic link, and a store holds none: someone put it there; remove it, then run 'bridge ckpt verify'"
        default: return nil
        }
    }

    /// A full disk, a size limit, a read-only file system, missing permission or a planted link: the user's to fix
    /// (exit 1). Anything else is an internal failure (exit 2).
    public var errorClass: ErrorClass { hint == nil ? .internal : .input }
}
