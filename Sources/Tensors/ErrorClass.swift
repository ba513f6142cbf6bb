// Whose fault an error is. Every error type of the project declares its class; the command line
// turns it into the exit code (DESIGN.md §4: 1 the user's input, 2 ours), so a new error type
// cannot be misreported by where it happens to live.

public enum ErrorClass: Sendable, Equatable {
    /// Bad input: a file, key, value, ref or tensor the user gave (exit 1, nothing written).
    case input
    /// Our failure or the machine's: an I/O error, a broken invariant (exit 2).
    case `internal`
}

public protocol ClassifiedError: Error, CustomStringConvertible {
    var errorClass: ErrorClass { get }
}
